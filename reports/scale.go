package reports

import (
	"math"
	"strconv"
)

// tick is one labelled axis position, in SVG user units.
type tick struct {
	Pos   float64
	Label string
}

// linScale maps [lo, hi] linearly onto [a, b] (b may be less than a, for
// y axes that grow upwards).
type linScale struct {
	lo, hi, a, b float64
}

func (s linScale) at(v float64) float64 {
	if s.hi == s.lo {
		return s.a
	}
	return s.a + (v-s.lo)*(s.b-s.a)/(s.hi-s.lo)
}

// niceStep returns a round step (1, 2 or 5 times a power of ten) that cuts
// span into about n intervals.
func niceStep(span float64, n int) float64 {
	if span <= 0 || n <= 0 || math.IsNaN(span) || math.IsInf(span, 0) {
		return 1
	}
	raw := span / float64(n)
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// linTicks returns ticks at round values of s's domain, labelled by label.
func linTicks(s linScale, n int, label func(float64) string) []tick {
	step := niceStep(s.hi-s.lo, n)
	var out []tick
	start := math.Ceil(s.lo/step-1e-9) * step
	for i := 0; i < 100; i++ {
		v := start + float64(i)*step
		if v > s.hi+step*1e-9 {
			break
		}
		if math.Abs(v) < step*1e-9 {
			v = 0 // not -0
		}
		out = append(out, tick{Pos: s.at(v), Label: label(v)})
	}
	return out
}

// timeTicks labels a time axis given in seconds.
func timeTicks(s linScale, n int) []tick {
	step := niceStep(s.hi-s.lo, n)
	return linTicks(s, n, func(v float64) string { return fmtSeconds(v, step) })
}

// fmtSeconds renders v seconds with as many decimals as step needs.
func fmtSeconds(v, step float64) string {
	dec := 0
	for d := step; d < 1 && dec < 6; d *= 10 {
		dec++
	}
	if math.Abs(v) < 1e-12 {
		v = 0
	}
	return strconv.FormatFloat(v, 'f', dec, 64) + " s"
}

// fmtCount renders an axis count (ops/s) compactly.
func fmtCount(v float64) string {
	switch {
	case v >= 1e6:
		return strconv.FormatFloat(v/1e6, 'g', 4, 64) + "M"
	case v >= 1e4:
		return strconv.FormatFloat(v/1e3, 'g', 4, 64) + "k"
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// fmtDuration renders a nanosecond duration for people: 1.23 ms, 4.5 s.
func fmtDuration(ns int64) string {
	d := float64(ns)
	switch {
	case ns < 0:
		return "-" + fmtDuration(-ns)
	case ns < 1_000:
		return strconv.FormatInt(ns, 10) + " ns"
	case ns < 1_000_000:
		return strconv.FormatFloat(d/1e3, 'g', 3, 64) + " µs"
	case ns < 1_000_000_000:
		return strconv.FormatFloat(d/1e6, 'g', 3, 64) + " ms"
	case ns < 120_000_000_000:
		return strconv.FormatFloat(d/1e9, 'g', 3, 64) + " s"
	case ns < 7_200_000_000_000:
		return strconv.FormatFloat(d/6e10, 'g', 3, 64) + " min"
	}
	return strconv.FormatFloat(d/3.6e12, 'g', 3, 64) + " h"
}

// decadeLabel names 10^e nanoseconds.
func decadeLabel(e int) string {
	units := []string{"ns", "µs", "ms", "s"}
	u := e / 3
	if u > 3 {
		u = 3
	}
	return strconv.FormatFloat(math.Pow(10, float64(e-3*u)), 'f', -1, 64) + " " + units[u]
}

// fmtSec renders a time since the start of the test, in seconds.
func fmtSec(ns int64) string {
	return strconv.FormatFloat(float64(ns)/1e9, 'f', 3, 64)
}

// num renders a coordinate with at most one decimal.
func num(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "0"
	}
	return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
}

// appendNum appends num(v) to b without allocating.
func appendNum(b []byte, v float64) []byte {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return append(b, '0')
	}
	return strconv.AppendFloat(b, math.Round(v*10)/10, 'f', -1, 64)
}

// appendRect appends an SVG path rectangle "M x y h w v h h -w z".
func appendRect(b []byte, x, y, w, h float64) []byte {
	b = append(b, 'M')
	b = appendNum(b, x)
	b = append(b, ' ')
	b = appendNum(b, y)
	b = append(b, 'h')
	b = appendNum(b, w)
	b = append(b, 'v')
	b = appendNum(b, h)
	b = append(b, 'h')
	b = appendNum(b, -w)
	return append(b, 'z')
}
