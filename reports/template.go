package reports

import (
	"embed"
	"fmt"
	"html/template"
	"math"
	"sync"
)

//go:embed report.tmpl style.tmpl index.tmpl
var templateFS embed.FS

// funcs are the template helpers: arithmetic on coordinates, and num to
// print them compactly.
var funcs = template.FuncMap{
	"n":    num,
	"add":  func(a, b float64) float64 { return a + b },
	"sub":  func(a, b float64) float64 { return a - b },
	"half": func(a float64) float64 { return a / 2 },
	"odd":  func(i int) bool { return i%2 == 1 },
	// diamond is the path of a witness marker centred on (x, y), sized
	// for rows of height rh.
	"diamond": func(x, y, rh float64) string {
		s := math.Min(5.5, math.Max(rh/2+1.5, 3))
		b := make([]byte, 0, 48)
		b = append(b, 'M')
		b = appendNum(b, x)
		b = append(b, ' ')
		b = appendNum(b, y-s)
		b = append(b, 'l')
		b = appendNum(b, s)
		b = append(b, ' ')
		b = appendNum(b, s)
		b = append(b, 'l')
		b = appendNum(b, -s)
		b = append(b, ' ')
		b = appendNum(b, s)
		b = append(b, 'l')
		b = appendNum(b, -s)
		b = append(b, ' ')
		b = appendNum(b, -s)
		return string(append(b, 'z'))
	},
}

// parse parses a page template with the shared style, once.
func parse(name string) func() (*template.Template, error) {
	return sync.OnceValues(func() (*template.Template, error) {
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, name, "style.tmpl")
		if err != nil {
			return nil, fmt.Errorf("parse template %s: %w", name, err)
		}
		return t, nil
	})
}

// The page templates, parsed on first use.
var (
	reportTmpl = parse("report.tmpl")
	indexTmpl  = parse("index.tmpl")
)
