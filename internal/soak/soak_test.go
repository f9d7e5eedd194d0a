package soak

import (
	"strings"
	"testing"
	"time"
)

func TestMeasure(t *testing.T) {
	lines := []string{
		`{"index":0,"time":0,"type":"invoke","process":0,"f":"read","value":null}`,
		`{"index":1,"time":100000000,"type":"invoke","process":1,"f":"read","value":null}`,
		`{"index":2,"time":150000000,"type":"info","process":"nemesis","f":"start","value":null}`,
		`{"index":3,"time":450000000,"type":"ok","process":0,"f":"read","value":1}`,
		`{"index":4,"time":1300000000,"type":"ok","process":1,"f":"read","value":1}`,
		`{"index":5,"time":3000000000,"type":"invoke","process":2,"f":"read","value":null}`,
		`{"index":6,"time":3100000000,"type":"ok","process":2,"f":"read","value":1}`,
	}
	rep, err := Measure(strings.NewReader(strings.Join(lines, "\n")+"\n"), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := Report{
		Events: 7, Invocations: 3,
		LongestGap: 300 * time.Millisecond, GapStart: 150 * time.Millisecond,
		LastCompletion: 1300 * time.Millisecond, Overshoot: 300 * time.Millisecond,
		InvokedAfterLimit: 1, FirstInvokeAfterLimit: 3 * time.Second,
	}
	if rep != want {
		t.Fatalf("got  %+v\nwant %+v", rep, want)
	}
}
