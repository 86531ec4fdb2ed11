package canary

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/keeptune/keeptune/internal/kstats"
)

// QueryPrometheus against a server speaking Prometheus's /api/v1/query: the vector is summed and
// $window becomes the window in seconds.
func TestQueryPrometheus(t *testing.T) {
	var query, at string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/query" {
			http.NotFound(w, r)
			return
		}
		query, at = r.URL.Query().Get("query"), r.URL.Query().Get("time")
		if strings.Contains(query, "bad") {
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"status":"error","errorType":"bad_data","error":"parse error"}`))
			return
		}
		w.Write([]byte(`{"status":"success","data":{"resultType":"vector","result":[` +
			`{"metric":{"code":"500"},"value":[1733380000.1,"12"]},{"metric":{"code":"502"},"value":[1733380000.1,"3.5"]}]}}`))
	}))
	defer srv.Close()
	when := time.Unix(1733380000, 0)
	v, err := QueryPrometheus(context.Background(), srv.URL, `sum(increase(http_errors_total[$window]))`, when, 90*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if v != 15.5 || query != "sum(increase(http_errors_total[90s]))" || at != "1733380000.000" {
		t.Errorf("value %v, query %q, time %q", v, query, at)
	}
	if _, err := QueryPrometheus(context.Background(), srv.URL, "bad(", when, time.Minute); err == nil || !strings.Contains(err.Error(), "parse error") {
		t.Errorf("a failing query: %v", err)
	}
}

// TestJudgedCountersAreRead checks that every counter the canary judges or divides by is one it
// reads: a name the kernel counter table does not have would be skipped silently as "not printed".
func TestJudgedCountersAreRead(t *testing.T) {
	read := map[string]bool{}
	for _, c := range kstats.TCPCounters {
		read[c.Field] = true
	}
	names := []string{"ActiveOpens", "PassiveOpens"}
	for _, c := range judged {
		names = append(names, c.field)
	}
	for _, n := range names {
		if !read[n] {
			t.Errorf("the canary uses %s, which kstats.TCPCounters does not read", n)
		}
	}
}
