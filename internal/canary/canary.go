package canary

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Baseline is what was measured before a change: kept in the journal so that `keeptune verify`
// can compare a later window with it.
type Baseline struct {
	Namespaces []Namespace `json:"namespaces"`
	Windows    []Window    `json:"windows"`
	// Application is the Prometheus signal's count over the window, when asked for.
	Application *AppSample `json:"application,omitempty"`
}

// AppSample is an application signal's value over a window.
type AppSample struct {
	Query string  `json:"query"`
	Value float64 `json:"value"`
	// Seconds is the window it covers.
	Seconds float64 `json:"seconds"`
}

// Verdict is the canary's answer (docs/json.md, "Verdict").
type Verdict struct {
	ApplyID string `json:"apply_id"`
	Verdict string `json:"verdict"`
	// Reasons list the regressions, or what was inconclusive.
	Reasons     []string           `json:"reasons"`
	BeforeStart time.Time          `json:"before_start"`
	BeforeEnd   time.Time          `json:"before_end"`
	AfterStart  time.Time          `json:"after_start"`
	AfterEnd    time.Time          `json:"after_end"`
	Alpha       float64            `json:"alpha"`
	MinRatio    float64            `json:"min_ratio"`
	MinOpens    uint64             `json:"min_opens"`
	Negligible  float64            `json:"negligible_rate"`
	Namespaces  []NamespaceVerdict `json:"namespaces"`
	Application *Result            `json:"application,omitempty"`
	// Action is what keeptune did about it: "kept", "rolled_back", "kept_no_rollback".
	Action string `json:"action"`
}

// Decide compares after with the baseline and builds the verdict (Action left for the caller).
func Decide(id string, base *Baseline, after []Window, app *AppSample, cfg Config) *Verdict {
	cfg = cfg.withDefaults()
	v := &Verdict{ApplyID: id, Alpha: cfg.Alpha, MinRatio: cfg.MinRatio, MinOpens: cfg.MinOpens, Negligible: cfg.Negligible}
	for i, ns := range base.Namespaces {
		v.Namespaces = append(v.Namespaces, Compare(ns, base.Windows[i], after[i], cfg))
	}
	if len(base.Windows) > 0 {
		v.BeforeStart, v.BeforeEnd = base.Windows[0].Start.Time, base.Windows[0].End.Time
	}
	if len(after) > 0 {
		v.AfterStart, v.AfterEnd = after[0].Start.Time, after[0].End.Time
	}
	if base.Application != nil && app != nil {
		r := Judge([]Test{{Counter: "application: " + app.Query,
			Before: uint64(math.Round(base.Application.Value)), After: uint64(math.Round(app.Value)),
			ExposureBefore: base.Application.Seconds, ExposureAfter: app.Seconds, PerConnection: true}}, cfg)[0]
		r.Unit = "per second"
		v.Application = &r
	}
	v.Verdict, v.Reasons = Overall(v.Namespaces, v.Application)
	if v.Reasons == nil {
		v.Reasons = []string{}
	}
	return v
}

// QueryPrometheus evaluates query at time at on the Prometheus server at base (its HTTP API,
// /api/v1/query) and returns the sum of the resulting vector or scalar. "$window" in the query
// is replaced with the window length in seconds ("increase(http_errors_total[$window])").
func QueryPrometheus(ctx context.Context, base, query string, at time.Time, window time.Duration) (float64, error) {
	q := strings.ReplaceAll(query, "$window", strconv.Itoa(int(math.Round(window.Seconds())))+"s")
	u := strings.TrimRight(base, "/") + "/api/v1/query?" + url.Values{"query": {q}, "time": {strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64)}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("prometheus: %w", err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string          `json:"resultType"`
			Result     json.RawMessage `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return 0, fmt.Errorf("prometheus %s: %s: %w", base, resp.Status, err)
	}
	if body.Status != "success" {
		return 0, fmt.Errorf("prometheus query %q: %s", q, body.Error)
	}
	parse := func(pair []any) (float64, error) {
		if len(pair) != 2 {
			return 0, errors.New("malformed sample")
		}
		s, _ := pair[1].(string)
		return strconv.ParseFloat(s, 64)
	}
	switch body.Data.ResultType {
	case "scalar":
		var pair []any
		if err := json.Unmarshal(body.Data.Result, &pair); err != nil {
			return 0, err
		}
		return parse(pair)
	case "vector":
		var vec []struct {
			Value []any `json:"value"`
		}
		if err := json.Unmarshal(body.Data.Result, &vec); err != nil {
			return 0, err
		}
		total := 0.0
		for _, s := range vec {
			v, err := parse(s.Value)
			if err != nil {
				return 0, err
			}
			if !math.IsNaN(v) {
				total += v
			}
		}
		return total, nil
	}
	return 0, fmt.Errorf("prometheus query %q gives a %s; want a count (a vector or scalar)", q, body.Data.ResultType)
}
