//go:build linux

// Command probe benchmarks `keeptune probe idle-timeout` in the lab: a NAT middlebox that
// forgets idle flows after T (conntrack in a network namespace, silent drop by default), a
// keeptune responder behind it, and the probe in front. For each T it records the wall time
// as a multiple of T (the physical limit is T itself: no test can show that a flow idle T
// dies before T has passed), the error of the reported value against T, the bracket's
// width and the connections used, over several repetitions, and prints the Markdown table
// of docs/PERFORMANCE.md ("## Probe").
//
// The Ts of one repetition run at the same time, each in its own lab; repetitions run one
// after another. Every lab is removed on exit, on error and on Ctrl-C.
//
// Run it as root:
//
//	sudo go run ./bench/probe -T 5s,11s,23s,47s -reps 5
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/keeptune/keeptune/internal/lab"
	"github.com/keeptune/keeptune/internal/probe"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench/probe:", err)
		os.Exit(1)
	}
}

type sample struct {
	T     time.Duration
	res   *probe.Result
	err   error
	labID string
}

func run() error {
	ts := flag.String("T", "5s,11s,23s,47s", "NAT idle timeouts to measure (whole seconds)")
	reps := flag.Int("reps", 5, "repetitions of each T")
	mode := flag.String("on-expiry", "drop", "what the NAT does with a forgotten flow: drop or reset")
	ipv6 := flag.Bool("ipv6", false, "run the labs on IPv6")
	prec := flag.String("precision", "auto", "--precision of the probe: auto, a duration, or a percentage")
	keepalive := flag.Bool("check-keepalive-refresh", true, "also run the keepalive-refresh test (as a full measurement would)")
	maxConns := flag.Int("max-conns", probe.DefaultMaxConns, "--max-conns of the probe")
	hold := flag.Bool("hold", false, "build one lab with the first -T and keep it until Ctrl-C, for running keeptune responder and probe in it by hand (the README's probe example)")
	flag.Parse()
	if os.Geteuid() != 0 {
		return errors.New("needs root: the lab creates network namespaces, veths and nftables tables")
	}
	var Ts []time.Duration
	for _, s := range strings.Split(*ts, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil || d < time.Second || d%time.Second != 0 {
			return fmt.Errorf("-T %q: expected whole seconds like 5s", s)
		}
		Ts = append(Ts, d)
	}
	onExp := lab.ExpiryDrop
	if *mode == "reset" {
		onExp = lab.ExpiryReset
	} else if *mode != "drop" {
		return fmt.Errorf("-on-expiry %q: expected drop or reset", *mode)
	}
	fam := lab.IPv4
	if *ipv6 {
		fam = lab.IPv6
	}
	precision, err := parsePrecision(*prec)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *hold {
		return holdLab(ctx, Ts[0], onExp, fam)
	}

	results := map[time.Duration][]sample{}
	for rep := 1; rep <= *reps; rep++ {
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, T := range Ts {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s := measure(ctx, T, onExp, fam, probe.Options{Precision: precision, CheckKeepalive: *keepalive, MaxConns: *maxConns})
				mu.Lock()
				results[T] = append(results[T], s)
				mu.Unlock()
				if s.err != nil {
					fmt.Fprintf(os.Stderr, "rep %d T=%v: %v\n", rep, T, s.err)
					return
				}
				r := s.res
				fmt.Fprintf(os.Stderr, "rep %d T=%v: %.3fs in [%.3f, %.3f], wall %.2fs = %.3f T, %d connections, %s\n",
					rep, T, r.IdleTimeout.Seconds(), r.Lo.Seconds(), r.Hi.Seconds(), r.Wall.Seconds(),
					float64(r.Wall)/float64(T), r.Connections, r.FailureMode)
			}()
		}
		wg.Wait()
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}

	fmt.Printf("| T | runs | wall / T: median (min-max) | error vs T: median, worst | bracket width | connections | failure mode, keepalive / server refresh |\n")
	fmt.Printf("|---|---|---|---|---|---|---|\n")
	failed := 0
	for _, T := range Ts {
		var ratios, errs, widths []float64
		var conns []int
		modes := map[string]int{}
		for _, s := range results[T] {
			if s.err != nil {
				failed++
				continue
			}
			r := s.res
			ratios = append(ratios, float64(r.Wall)/float64(T))
			errs = append(errs, (r.IdleTimeout - T).Seconds())
			widths = append(widths, (r.Hi - r.Lo).Seconds())
			conns = append(conns, r.Connections)
			modes[fmt.Sprintf("%s, %s / %s", r.FailureMode, b(r.KeepaliveRefresh), b(r.ServerRefresh))]++
		}
		if len(ratios) == 0 {
			fmt.Printf("| %v | 0 | - | - | - | - | - |\n", T)
			continue
		}
		var ms []string
		for m, n := range modes {
			ms = append(ms, fmt.Sprintf("%s (%d)", m, n))
		}
		slices.Sort(ms)
		absErr := make([]float64, len(errs))
		for i, e := range errs {
			absErr[i] = max(e, -e)
		}
		fmt.Printf("| %v | %d | %.3f (%.3f-%.3f) | %+.3f s, %.3f s | %.3f-%.3f s | %d-%d | %s |\n",
			T, len(ratios), median(ratios), slices.Min(ratios), slices.Max(ratios),
			median(errs), slices.Max(absErr), slices.Min(widths), slices.Max(widths),
			slices.Min(conns), slices.Max(conns), strings.Join(ms, "; "))
	}
	if failed > 0 {
		return fmt.Errorf("%d runs failed", failed)
	}
	return nil
}

func b(v *bool) string {
	if v == nil {
		return "null"
	}
	return fmt.Sprint(*v)
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func parsePrecision(s string) (probe.Precision, error) {
	switch {
	case s == "auto":
		return probe.DefaultPrecision, nil
	case strings.HasSuffix(s, "%"):
		var v float64
		if _, err := fmt.Sscanf(s, "%g%%", &v); err != nil || v <= 0 {
			return probe.Precision{}, fmt.Errorf("-precision %q", s)
		}
		return probe.Precision{Fraction: v / 100}, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return probe.Precision{}, fmt.Errorf("-precision %q: %v", s, err)
	}
	return probe.Precision{Fixed: d}, nil
}

// measure builds a lab with a NAT that forgets flows after T, runs a responder behind it and
// the probe in front, and removes the lab.
func measure(ctx context.Context, T time.Duration, onExp lab.OnExpiry, fam lab.Family, o probe.Options) (s sample) {
	s.T = T
	l, err := lab.New(ctx, lab.Spec{Topology: lab.Routed, Family: fam, NAT: &lab.NAT{IdleTimeout: T, OnExpiry: onExp}})
	if err != nil {
		s.err = err
		return s
	}
	s.labID = l.ID
	defer func() {
		if err := l.Close(); err != nil && s.err == nil {
			s.err = err
		}
		if left, _ := lab.Remaining(l.ID); len(left) > 0 && s.err == nil {
			s.err = fmt.Errorf("lab %s left %v", l.ID, left)
		}
	}()
	addr := netip.AddrPortFrom(l.ServerAddr(), 4242)
	ln, err := l.Server.Listen(ctx, probe.ListenConfig(), addr)
	if err != nil {
		s.err = err
		return s
	}
	r, err := probe.NewResponder(probe.ResponderConfig{})
	if err != nil {
		s.err = err
		return s
	}
	sctx, cancel := context.WithCancel(ctx)
	served := make(chan struct{})
	go func() { defer close(served); r.Serve(sctx, ln) }()
	defer func() { cancel(); <-served }()
	o.Dial = func(ctx context.Context, d *net.Dialer, a netip.AddrPort) (*net.TCPConn, error) {
		return l.Client.Dial(ctx, d, a)
	}
	s.res, s.err = probe.Run(ctx, addr, o)
	return s
}

// holdLab builds the lab one measurement uses and keeps it until ctx ends (Ctrl-C), saying how
// to run the real binaries in it; the lab is removed on the way out.
func holdLab(ctx context.Context, T time.Duration, onExp lab.OnExpiry, fam lab.Family) error {
	l, err := lab.New(ctx, lab.Spec{Topology: lab.Routed, Family: fam, NAT: &lab.NAT{IdleTimeout: T, OnExpiry: onExp}})
	if err != nil {
		return err
	}
	defer l.Close()
	server := netip.AddrPortFrom(l.ServerAddr(), 4242)
	fmt.Printf("lab %s: a NAT that forgets idle flows after %v (%s), removed on Ctrl-C; in other shells:\n", l.ID, T, onExp)
	fmt.Printf("  sudo ip netns exec %s keeptune responder --listen %s\n", l.Server.Name, server)
	fmt.Printf("  sudo ip netns exec %s keeptune probe idle-timeout %s --check-keepalive-refresh\n", l.Client.Name, server)
	<-ctx.Done()
	return nil
}
