package elle

import (
	"fmt"
	"html"
	"math"
	"os"
	"strings"
)

// explainCycle explains a cycle step by step, as Elle does: it names
// each transaction in full, then says why each precedes the next, ending
// in the contradiction.
func explainCycle(t *txns, c *cycle, kind string, explain func(a, b int32, r rel, an, bn string) string) string {
	var b strings.Builder
	n := len(c.txns)
	fmt.Fprintf(&b, "A %s cycle of %d transactions. Let ", kind, n)
	for i, x := range c.txns {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "T%d = %s", i+1, t.name(x))
	}
	b.WriteString(". Then ")
	for i, x := range c.txns {
		y := c.txns[(i+1)%n]
		an, bn := fmt.Sprintf("T%d", i+1), fmt.Sprintf("T%d", (i+1)%n+1)
		why := stepReason(t, x, y, c.steps[i], an, bn, explain)
		if i == n-1 && n > 1 {
			b.WriteString("; however, ")
		} else if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s < %s because %s", an, bn, why)
	}
	b.WriteString(": a contradiction.")
	return b.String()
}

// stepReason says why a precedes b by r.
func stepReason(t *txns, a, b int32, r rel, an, bn string, explain func(a, b int32, r rel, an, bn string) string) string {
	switch r {
	case relProcess:
		return fmt.Sprintf("process %s executed %s before %s", t.ts[a].proc, an, bn)
	case relRealtime:
		return fmt.Sprintf("%s completed (op %d) before %s was invoked (op %d)", an, t.ref(t.ts[a].op), bn, t.ref(t.ts[b].inv))
	}
	if s := explain(a, b, r, an, bn); s != "" {
		return s
	}
	return fmt.Sprintf("of a %s dependency", r)
}

// relColor is the colour of each relationship in drawings.
func relColor(r rel) string {
	switch r {
	case relWW:
		return "#c0392b"
	case relWR:
		return "#2471a3"
	case relRW:
		return "#d68910"
	case relProcess:
		return "#7d3c98"
	}
	return "#555555"
}

// cycleSVG draws the cycle: its transactions on a circle, each step an
// arrow labelled with its relationship. Self-contained SVG, no Graphviz.
func cycleSVG(t *txns, c *cycle, kind string) string {
	n := len(c.txns)
	rows := min(n, 6)
	// The circle fills the top 400 pixels; the legend goes below it.
	const w = 520.0
	hgt := 400.0 + 12*float64(rows) + 8
	cx, cy, rad := w/2, 210.0, 140.0
	if n == 2 {
		rad = 120
	}
	pos := make([][2]float64, n)
	for i := range pos {
		a := -math.Pi/2 + 2*math.Pi*float64(i)/float64(n)
		pos[i] = [2]float64{cx + rad*math.Cos(a), cy + rad*math.Sin(a)}
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="12">`+"\n", w, hgt, w, hgt)
	b.WriteString(`<defs>`)
	for _, r := range relOrder {
		fmt.Fprintf(&b, `<marker id="a-%s" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="%s"/></marker>`, r, relColor(r))
	}
	b.WriteString("</defs>\n")
	fmt.Fprintf(&b, `<text x="10" y="20" font-size="14" font-weight="bold">%s</text>`+"\n", html.EscapeString(kind))
	const nodeR = 22.0
	for i := range c.txns {
		j := (i + 1) % n
		x1, y1, x2, y2 := pos[i][0], pos[i][1], pos[j][0], pos[j][1]
		dx, dy := x2-x1, y2-y1
		d := math.Hypot(dx, dy)
		ux, uy := dx/d, dy/d
		// Bend each arrow outwards, so that the two arrows of a 2-cycle
		// do not overlap.
		mx, my := (x1+x2)/2, (y1+y2)/2
		nx, ny := -uy, ux
		if (mx-cx)*nx+(my-cy)*ny < 0 {
			nx, ny = -nx, -ny
		}
		bend := 30.0
		qx, qy := mx+nx*bend, my+ny*bend
		sx, sy := x1+ux*nodeR, y1+uy*nodeR
		ex, ey := x2-ux*nodeR, y2-uy*nodeR
		r := c.steps[i]
		fmt.Fprintf(&b, `<path d="M%.1f,%.1f Q%.1f,%.1f %.1f,%.1f" fill="none" stroke="%s" stroke-width="2" marker-end="url(#a-%s)"/>`+"\n", sx, sy, qx, qy, ex, ey, relColor(r), r)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" fill="%s">%s</text>`+"\n", qx+nx*10, qy+ny*10+4, relColor(r), r)
	}
	for i, x := range c.txns {
		fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="%.0f" fill="#fdfefe" stroke="#17202a"/>`, pos[i][0], pos[i][1], nodeR)
		fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle" font-weight="bold">T%d</text>`, pos[i][0], pos[i][1]+4, i+1)
		fmt.Fprintf(&b, `<title>%s</title>`+"\n", html.EscapeString(t.name(x)))
	}
	y := 408.0
	for i, x := range c.txns {
		if i >= 6 {
			break
		}
		fmt.Fprintf(&b, `<text x="10" y="%.0f" font-size="10">%s</text>`+"\n", y, html.EscapeString(clip(fmt.Sprintf("T%d = %s", i+1, t.name(x)), 95)))
		y += 12
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

// writeSVG writes the drawing of c to path.
func writeSVG(path string, t *txns, c *cycle, kind string) error {
	if err := ensureDir(path); err != nil {
		return fmt.Errorf("elle: %w", err)
	}
	if err := os.WriteFile(path, []byte(cycleSVG(t, c, kind)), 0o644); err != nil {
		return fmt.Errorf("elle: write drawing: %w", err)
	}
	return nil
}
