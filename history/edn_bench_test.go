package history

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkReadEDN reads 16 MiB of a real Porcupine/Knossos kv history
// (kv/c50-ok.txt, repeated), and reports MB/s and ops/s.
func BenchmarkReadEDN(b *testing.B) {
	data, err := os.ReadFile(filepath.Join(porcupine, "kv", "c50-ok.txt"))
	if err != nil {
		b.Fatal(err)
	}
	var in bytes.Buffer
	for in.Len() < 16<<20 {
		in.Write(data)
	}
	b.SetBytes(int64(in.Len()))
	b.ReportAllocs()
	ops := 0
	for b.Loop() {
		h, _, err := ReadEDN(bytes.NewReader(in.Bytes()))
		if err != nil {
			b.Fatal(err)
		}
		ops += len(h.Ops)
	}
	b.ReportMetric(float64(ops)/b.Elapsed().Seconds(), "ops/s")
}
