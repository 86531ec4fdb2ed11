// Package lint measures keeptune lint's own work per configuration file (parse, includes,
// syntax checks, rules) on the configuration corpus beside the repository, without the
// process start-up every CLI run pays:
//
//	go test ./bench/lint -bench . -benchtime 20x
package lint

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/configs"
	_ "github.com/keeptune/keeptune/internal/configs/all"
	"github.com/keeptune/keeptune/internal/profiles"
	"github.com/keeptune/keeptune/internal/rules"
)

// corpusFiles are the main files of ../shared/corpus (MANIFEST.tsv) with their formats.
func corpusFiles(tb testing.TB) (dir string, files [][2]string) {
	// Beside the repository (a clone at /work/X) or beside a worktree's parent (/work/wt/X);
	// KEEPTUNE_CORPUS names another.
	var f *os.File
	var err error
	for _, d := range []string{os.Getenv("KEEPTUNE_CORPUS"), "../../../shared/corpus", "../../../../shared/corpus"} {
		if d == "" {
			continue
		}
		if f, err = os.Open(filepath.Join(d, "MANIFEST.tsv")); err == nil {
			dir = d
			break
		}
	}
	if f == nil {
		tb.Skip("no configuration corpus beside the repository (../shared/corpus; KEEPTUNE_CORPUS=DIR)")
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		col := strings.Split(sc.Text(), "\t")
		if len(col) > 6 && col[5] == "main" {
			files = append(files, [2]string{filepath.Join(dir, col[0]), col[6]})
		}
	}
	return dir, files
}

func BenchmarkLintCorpusFile(b *testing.B) {
	_, files := corpusFiles(b)
	prof, _ := profiles.Resolve("general")
	all := rules.All()
	var worst time.Duration
	var worstFile string
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, f := range files {
			start := time.Now()
			c, err := configs.ReadFileVars(f[0], f[1], configs.Vars{Version: "1"})
			in := &rules.Input{Profile: prof}
			if err != nil {
				in.ConfigErrors = []error{err}
			} else {
				in.Configs = []*configs.Config{c}
			}
			rules.Run(in, all)
			if d := time.Since(start); d > worst {
				worst, worstFile = d, f[0]
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(files))/1e6, "ms/file")
	b.ReportMetric(float64(worst.Nanoseconds())/1e6, "worst-ms")
	b.Logf("%d files; slowest %s", len(files), worstFile)
}
