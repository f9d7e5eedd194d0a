package reports

import (
	"testing"

	"github.com/chaoscheck/chaoscheck/measures"
)

func TestBuildMeasuresReadRoutes(t *testing.T) {
	mv := buildMeasures(measures.Measurements{ReadRoutes: &measures.ReadRoutes{
		Reads: 4, ToPrimary: 1, PrimaryShare: 0.25,
		ByRoute: map[string]int64{"replica: fresh lag below bound": 3, "primary: no fresh lag sample": 1},
	}})
	if mv == nil || mv.Routes == nil {
		t.Fatalf("no routes view: %+v", mv)
	}
	r := mv.Routes
	if r.Share != "25.0%" || len(r.Rows) != 2 || r.Rows[0].Route != "primary: no fresh lag sample" || r.Rows[1].Reads != 3 {
		t.Errorf("routes view %+v", r)
	}
	if buildMeasures(measures.Measurements{}) != nil {
		t.Errorf("no measurements, a view")
	}
}
