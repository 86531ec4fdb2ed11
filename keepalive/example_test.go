//go:build linux

// The outputs below are what Linux reports.

package keepalive_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"time"

	"github.com/keeptune/keeptune/keepalive"
)

// A Config for a service behind a load balancer that drops idle flows after
// 350 seconds: probe after 5 minutes, give up after 3 unanswered probes, and
// (on Linux) do not wait more than 2 minutes for unacknowledged data.
func ExampleConfig() {
	cfg := keepalive.Config{
		Idle:        5 * time.Minute,
		Interval:    15 * time.Second,
		Count:       3,
		UserTimeout: 2 * time.Minute,
	}
	if err := cfg.Validate(); err != nil {
		log.Fatal(err)
	}
	// The user timeout has passed when the first probe is due at 5m, so
	// Linux gives up at the next timer, after one unanswered probe: Count
	// does not apply.
	fmt.Println(cfg.DetectionTime())
	// Output: 5m15s
}

func ExampleConfig_Dialer() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()

	cfg := keepalive.Config{Idle: 10 * time.Minute, Interval: 10 * time.Second, Count: 6}
	d := cfg.Dialer(&net.Dialer{Timeout: 5 * time.Second})
	conn, err := d.DialContext(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	e, err := keepalive.Read(conn.(*net.TCPConn))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(e.Enabled, e.Idle, e.Interval, e.Count)
	// Output: true 10m0s 10s 6
}

func ExampleConfig_ListenConfig() {
	cfg := keepalive.Config{Idle: 2 * time.Minute, Interval: 20 * time.Second, Count: 4}
	ln, err := cfg.ListenConfig(nil).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()

	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	conn, err := ln.Accept()
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	// The accepted connection inherited the listener's settings.
	e, err := keepalive.Read(conn.(*net.TCPConn))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(e.Enabled, e.Idle, e.Interval, e.Count)
	// Output: true 2m0s 20s 4
}

func ExampleApply() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	// Only Idle is set: Interval and Count keep what the socket has,
	// here the net package's 15s and 9.
	if err := keepalive.Apply(conn.(*net.TCPConn), keepalive.Config{Idle: time.Hour}); err != nil {
		log.Fatal(err)
	}
	e, err := keepalive.Read(conn.(*net.TCPConn))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(e.Enabled, e.Idle, e.Interval, e.Count)
	// Output: true 1h0m0s 15s 9
}

// Read shows what the net package does on its own: every dialed connection
// gets 15s idle, 15s interval and 9 probes, whatever the host's sysctls say.
func ExampleRead() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close()

	e, err := keepalive.Read(conn.(*net.TCPConn))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("enabled=%v idle=%v interval=%v count=%d detection=%v\n",
		e.Enabled, e.Idle, e.Interval, e.Count, e.DetectionTime())
	// Output: enabled=true idle=15s interval=15s count=9 detection=2m30s
}

func ExampleConfig_DetectionTime() {
	linuxDefaults := keepalive.Config{Idle: 7200 * time.Second, Interval: 75 * time.Second, Count: 9}
	fmt.Println(linuxDefaults.DetectionTime())

	// With TCP_USER_TIMEOUT Linux ignores Count and closes the connection at
	// the first keepalive timer at or after the user timeout.
	userTimeout := keepalive.Config{Idle: time.Second, Interval: 11 * time.Second, UserTimeout: 5 * time.Second}
	fmt.Println(userTimeout.DetectionTime())
	// Output:
	// 2h11m15s
	// 12s
}

func ExampleConfig_Validate() {
	err := keepalive.Config{Idle: 1500 * time.Millisecond}.Validate()
	fmt.Println(err)
	// Output: keepalive: invalid config: Idle 1.5s is not a whole number of seconds: must be 0 (leave as is) or a whole number of seconds from 1s to 32767s (TCP_KEEPIDLE)
}
