package plan

import (
	"fmt"
	"strings"
	"time"
)

// Snippet is the code that sets a hop side's value in its runtime, for the runtimes whose
// defaults keeptune knows: Go (net.KeepAliveConfig, Go 1.23, or the keepalive/ package), Java
// (jdk.net.ExtendedSocketOptions, JDK 11), Python (socket.TCP_KEEPIDLE, Linux), Node.js
// (socket.setKeepAlive, server.keepAliveTimeout) and OkHttp (ConnectionPool). key is "keepalive" (TCP_KEEPIDLE) or "idle" (the keep-alive or
// pool idle timeout). ok is false for other runtimes: the directive (Directive) says it.
func Snippet(runtime, side, key string, d time.Duration) (lang, code string, ok bool) {
	s := int64(d / time.Second)
	switch strings.ToLower(runtime) + "/" + key {
	case "go/keepalive", "grpc-go/keepalive":
		code = fmt.Sprintf(`// keeptune's keepalive package (github.com/keeptune/keeptune/keepalive) validates the values
// and sets them on the socket before connect/accept:
cfg := keepalive.Config{Idle: %d * time.Second, Interval: 20 * time.Second, Count: 5}
`, s)
		if side == sideUpstream {
			code += "dialer := cfg.Dialer(&net.Dialer{Timeout: 5 * time.Second})\n"
		} else {
			code += "ln, err := cfg.ListenConfig(&net.ListenConfig{}).Listen(ctx, \"tcp\", addr)\n"
		}
		code += fmt.Sprintf("// or, standard library only (Go 1.23): net.KeepAliveConfig{Enable: true, Idle: %d * time.Second, Interval: 20 * time.Second, Count: 5}\n", s)
		return "go", code, true
	case "go/idle":
		if side == sideUpstream {
			return "go", fmt.Sprintf("transport := &http.Transport{IdleConnTimeout: %d * time.Second}\n", s), true
		}
		return "go", fmt.Sprintf("srv := &http.Server{IdleTimeout: %d * time.Second}\n", s), true
	case "java/keepalive":
		return "java", fmt.Sprintf(`socket.setKeepAlive(true);
socket.setOption(jdk.net.ExtendedSocketOptions.TCP_KEEPIDLE, %d); // JDK 11+, seconds
socket.setOption(jdk.net.ExtendedSocketOptions.TCP_KEEPINTERVAL, 20);
socket.setOption(jdk.net.ExtendedSocketOptions.TCP_KEEPCOUNT, 5);
`, s), true
	case "okhttp/idle":
		return "kotlin", fmt.Sprintf("OkHttpClient.Builder().connectionPool(ConnectionPool(5, %d, TimeUnit.SECONDS)).build()\n", s), true
	case "python/keepalive":
		return "python", fmt.Sprintf(`sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, %d)  # Linux; seconds
sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 20)
sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 5)
`, s), true
	case "node/keepalive":
		return "javascript", fmt.Sprintf("socket.setKeepAlive(true, %d); // initial delay in ms; interval and count stay the host's\n", d.Milliseconds()), true
	}
	return "", "", false
}

// GoDuration writes a duration as Go source: "5 * time.Minute", "80 * time.Second".
func GoDuration(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprintf("%d * time.Minute", d/time.Minute)
	}
	return fmt.Sprintf("%d * time.Second", d/time.Second)
}
