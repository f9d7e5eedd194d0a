package suite

import (
	"bytes"
	"fmt"
	"html/template"
	"path"
	"strings"
	"time"

	"github.com/chaoscheck/chaoscheck/rundir"
)

// summaryCell is one cell of the summary's matrix.
type summaryCell struct {
	*CellResult
	Report string // link to the run's report ("" without a run)
}

type summaryRow struct {
	Label string
	Cells []*summaryCell // one per column; nil where the row has no cell
}

type summaryPage struct {
	R       *Results
	Columns []string
	Rows    []summaryRow
	Start   string
	Took    string
}

// Summary renders summary.html: the matrix of configurations (rows) by
// faults (columns), each cell with its status, verdict, anomalies,
// availability during faults, p99 latencies, how it got its cluster and
// a link to its run's report; below it, every cell's expectations. The
// page is self-contained (no scripts, no fetches).
func (r *Results) Summary() ([]byte, error) {
	p := summaryPage{R: r, Start: r.Start.UTC().Format(time.RFC3339), Took: time.Duration(r.DurationNS).Round(time.Second).String()}
	rowIdx := map[string]int{}
	colIdx := map[string]int{}
	for i := range r.Cells {
		c := &r.Cells[i]
		if _, ok := colIdx[c.Column]; !ok {
			colIdx[c.Column] = len(p.Columns)
			p.Columns = append(p.Columns, c.Column)
		}
		if _, ok := rowIdx[c.Row]; !ok {
			rowIdx[c.Row] = len(p.Rows)
			p.Rows = append(p.Rows, summaryRow{Label: c.Row})
		}
	}
	for i := range p.Rows {
		p.Rows[i].Cells = make([]*summaryCell, len(p.Columns))
	}
	for i := range r.Cells {
		c := &r.Cells[i]
		sc := &summaryCell{CellResult: c}
		if c.Dir != "" {
			sc.Report = path.Join(c.Dir, rundir.ReportFile)
		}
		row := p.Rows[rowIdx[c.Row]].Cells
		if j := colIdx[c.Column]; row[j] == nil {
			row[j] = sc
		} else {
			// Two cells of one row share faults (a matrix axis that is
			// not the nemesis but ended in the same label): give the
			// second a row of its own.
			p.Rows = append(p.Rows, summaryRow{Label: c.Row + " (" + c.Name + ")", Cells: make([]*summaryCell, len(p.Columns))})
			p.Rows[len(p.Rows)-1].Cells[j] = sc
		}
	}
	var b bytes.Buffer
	if err := summaryTmpl.Execute(&b, p); err != nil {
		return nil, fmt.Errorf("summary: %w", err)
	}
	return b.Bytes(), nil
}

var summaryTmpl = template.Must(template.New("summary").Funcs(template.FuncMap{
	"ms": func(ns int64) string {
		if ns == 0 {
			return "–"
		}
		return time.Duration(ns).Round(100 * time.Microsecond).String()
	},
	"pct": func(p *float64) string {
		if p == nil {
			return "–"
		}
		return fmt.Sprintf("%.1f%%", *p)
	},
	"anomalies": func(m map[string]int) string {
		var parts []string
		for _, k := range sortedKeys(m) {
			parts = append(parts, fmt.Sprintf("%s ×%d", k, m[k]))
		}
		return strings.Join(parts, ", ")
	},
	"statusWord": func(s Status) string {
		switch s {
		case StatusHeld:
			return "held"
		case StatusNotHeld:
			return "not held"
		}
		return "not run"
	},
	"args": func(a []string) string { return "chaoscheck test " + strings.Join(a, " ") },
}).Parse(summaryHTML))

const summaryHTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.R.Suite}}: suite summary</title>
<style>
:root{--ok:#1f8a4c;--fail:#c62f2a;--unk:#b97c00;--ink:#1d2330;--muted:#5b6373;--line:#e2e5ea;--bg:#f4f5f7;--accent:#2a5db0}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--ink);font:14px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans","DejaVu Sans",Helvetica,Arial,sans-serif}
main{max-width:1400px;margin:0 auto;padding:22px 26px 48px}
a{color:var(--accent)}
code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:12px;background:#f0f2f5;border-radius:4px;padding:0 4px;word-break:break-all}
header,section{background:#fff;border:1px solid var(--line);border-radius:10px;padding:18px 22px;margin-top:16px}
h1{font-size:24px;margin:0 0 6px}
h2{font-size:16px;margin:0 0 10px}
.eyebrow{text-transform:uppercase;letter-spacing:.08em;font-size:11px;color:var(--muted);font-weight:600}
.tally{display:flex;gap:12px;flex-wrap:wrap;margin-top:8px}
.tally span{border-radius:999px;padding:2px 12px;font-weight:600;color:#fff}
.t-held{background:var(--ok)}.t-notheld{background:var(--fail)}.t-notrun{background:var(--unk)}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:6px 9px;border:1px solid var(--line);vertical-align:top}
thead th{background:#f3f4f7;font-weight:600}
th.row{background:#fafbfc;font-weight:600;max-width:280px}
td.cell{border-left:6px solid var(--line);min-width:170px}
td.cell.held{border-left-color:var(--ok)}
td.cell.not-held{border-left-color:var(--fail);background:#fff6f5}
td.cell.not-run{border-left-color:var(--unk);background:#fffcf3}
td.empty{background:#fafafa;color:var(--muted)}
.status{font-weight:700;text-transform:uppercase;font-size:12px;letter-spacing:.05em}
.held .status{color:var(--ok)}.not-held .status{color:var(--fail)}.not-run .status{color:var(--unk)}
.verdict{font-weight:600}.v-valid{color:var(--ok)}.v-invalid{color:var(--fail)}.v-unknown{color:var(--unk)}
.meta{color:var(--muted);font-size:12px}
.anom{color:#a3241f;font-size:12.5px}
ul.exp{margin:4px 0 0;padding-left:18px}
ul.exp li.no{color:#a3241f}
ul.exp li.yes{color:#1d5e38}
</style></head>
<body><main>
<header>
<div class="eyebrow">chaoscheck suite</div>
<h1 id="suite">{{.R.Suite}}</h1>
{{with .R.Description}}<p>{{.}}</p>{{end}}
<div class="meta">file <code>{{.R.File}}</code> · started {{.Start}} · took {{.Took}} · {{len .R.Cells}} cells</div>
<div class="tally" id="tally"><span class="t-held">{{.R.Held}} held</span><span class="t-notheld">{{.R.NotHeld}} not held</span><span class="t-notrun">{{.R.NotRun}} not run</span></div>
</header>
<section>
<h2>Configurations × faults</h2>
<p class="meta">Each cell: whether its expectations held, the verdict and anomalies of its run, the share of operations that succeeded while a fault was in force, the p50 and p99 latency of ok reads and writes, and whether it reused a cluster deployed for an earlier cell (its data reset).</p>
<table id="matrix">
<thead><tr><th>configuration</th>{{range .Columns}}<th>nemesis: {{.}}</th>{{end}}</tr></thead>
<tbody>
{{range .Rows}}<tr><th class="row">{{.Label}}</th>{{range .Cells}}{{if .}}<td class="cell {{.Status}}" id="cell-{{.Name}}" data-status="{{.Status}}">
<div class="status">{{statusWord .Status}}</div>
{{if .Verdict}}<div class="verdict v-{{.Verdict}}">verdict {{.Verdict}}</div>{{end}}
{{with anomalies .Anomalies}}<div class="anom">{{.}}</div>{{end}}
{{if .Verdict}}<div class="meta">availability in faults {{pct .AvailabilityPct}}<br>p50 read {{ms .P50ReadNS}} · write {{ms .P50WriteNS}}<br>p99 read {{ms .P99ReadNS}} · write {{ms .P99WriteNS}}</div>{{end}}
{{with .Deployment}}<div class="meta">{{.}}</div>{{end}}
{{if .Report}}<div><a href="{{.Report}}">report</a></div>{{end}}
</td>{{else}}<td class="empty">–</td>{{end}}{{end}}</tr>
{{end}}</tbody></table>
</section>
<section>
<h2>Cells</h2>
<table id="cells">
<thead><tr><th>cell</th><th>expectations</th><th>test</th></tr></thead>
<tbody>
{{range .R.Cells}}<tr id="row-{{.Name}}"><td><b>{{.Name}}</b><div class="meta">{{statusWord .Status}}{{if .Dir}} · <a href="{{.Dir}}/report.html">report</a>{{end}}</div></td>
<td>{{if .Expectations}}<ul class="exp">{{range .Expectations}}<li class="{{if .Held}}yes{{else}}no{{end}}">{{if .Held}}✓{{else}}✗{{end}} expected {{.Expected}}; seen {{.Seen}}</li>{{end}}</ul>{{end}}
{{range .Errors}}<div class="anom">{{.}}</div>{{end}}</td>
<td><code>{{args .Args}}</code></td></tr>
{{end}}</tbody></table>
</section>
</main></body></html>
`
