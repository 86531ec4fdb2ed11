package gather

import (
	"context"
	"testing"
)

// BenchmarkHost gathers the live host as `keeptune audit --no-configs` does: with sockets held
// by bench/sockets -hold it shows where audit's time and memory go per socket
// (go test -run XXX -bench Host -benchtime 3x -memprofile mem.out ./internal/gather).
func BenchmarkHost(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		w, err := Host(context.Background(), Options{NoConfigs: true})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(w.Snapshot.Processes)), "processes")
	}
}
