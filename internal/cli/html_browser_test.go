package cli

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chromiumFlags run Debian's chromium headless with nothing of its own going on: no sandbox
// (root in CI), no GPU, no background or update traffic, a fresh profile per run.
var chromiumFlags = []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
	"--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
	"--enable-logging=stderr", "--log-level=0", "--v=0"}

// renderPNG renders page in headless Chromium inside a new, empty network namespace (unshare
// -n: there is no network to reach) and returns the screenshot and Chromium's log, which holds
// the page's console messages: a fetch the page's CSP blocked shows there as "violates the
// following Content Security Policy".
func renderPNG(t *testing.T, browser, page string, width, height int) (image.Image, string) {
	t.Helper()
	dir := t.TempDir()
	shot := filepath.Join(dir, "page.png")
	args := append([]string{"-n", browser}, chromiumFlags...)
	args = append(args, "--user-data-dir="+filepath.Join(dir, "profile"), "--screenshot="+shot, fmt.Sprintf("--window-size=%d,%d", width, height), "file://"+page)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var log bytes.Buffer
	cmd := exec.CommandContext(ctx, "unshare", args...)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, log.String())
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v\n%s", err, log.String())
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return img, log.String()
}

// TestHTMLInChromium renders every example chain's --html page in a real browser: the picture
// is not blank (the timeline's colours are there) and the page made no network request (its
// CSP would have logged any attempt, and the browser runs where there is no network). A control
// page that does fetch proves the detector sees a request (issue 17).
func TestHTMLInChromium(t *testing.T) {
	browser, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium is not installed (.ci/run installs it): no real browser to render in")
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root for an empty network namespace (unshare -n) to render in")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare (util-linux) is not installed")
	}
	examples, _ := filepath.Glob("../../examples/*.yaml")
	var chains []string
	for _, ex := range examples {
		if !strings.HasSuffix(ex, "-fixed.yaml") {
			chains = append(chains, ex)
		}
	}
	if len(chains) == 0 {
		t.Fatal("no example chains found")
	}
	// One page with every example chain (lint takes them all): one browser start instead of
	// seven keeps the test to seconds on a loaded machine.
	dir := t.TempDir()
	page := filepath.Join(dir, "examples.html")
	if code, _, stderr := runCLI(context.Background(), append([]string{"lint", "--html", page}, chains...)...); code != ExitOK && code != ExitFindings {
		t.Fatalf("lint --html: exit %d: %s", code, stderr)
	}
	data, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(data), `<section class="chain">`); got != len(chains) {
		t.Fatalf("%d chains drawn, want %d", got, len(chains))
	}
	img, log := renderPNG(t, browser, page, 1280, 1000*len(chains))
	if strings.Contains(log, "Content Security Policy") {
		t.Errorf("the page tried to fetch something:\n%s", log)
	}
	bounds := img.Bounds()
	var ink, bars int
	for y := bounds.Min.Y; y < bounds.Max.Y; y++ {
		for x := bounds.Min.X; x < bounds.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			r, g, b = r>>8, g>>8, b>>8
			if r < 240 || g < 240 || b < 240 {
				ink++
			}
			// The keep-alive bars' blue (#64b5f6) or the pool bars' purple (#9575cd).
			if near(r, g, b, 0x64, 0xb5, 0xf6) || near(r, g, b, 0x95, 0x75, 0xcd) {
				bars++
			}
		}
	}
	if total := bounds.Dx() * bounds.Dy(); ink < total/100 {
		t.Errorf("the picture is blank (%d of %d pixels not white)", ink, total)
	}
	if bars < 200*len(chains) {
		t.Errorf("timeline bars missing: %d pixels of their colours for %d chains", bars, len(chains))
	}
	if keep := os.Getenv("KEEPTUNE_KEEP_PNG"); keep != "" {
		f, _ := os.Create(keep)
		png.Encode(f, img)
		f.Close()
	}
	// Control: the same page with an image from the network. The CSP blocks it and says so in
	// the log; were the detector blind, the assertions above would prove nothing.
	leak := filepath.Join(dir, "leak.html")
	os.WriteFile(leak, bytes.Replace(data, []byte("<body>"), []byte(`<body><img src="http://198.51.100.7/x.png">`), 1), 0o644)
	if _, log := renderPNG(t, browser, leak, 640, 480); !strings.Contains(log, "Content Security Policy") {
		t.Errorf("the control page's fetch went unnoticed:\n%s", log)
	}
}

func near(r, g, b, wr, wg, wb uint32) bool {
	d := func(a, b uint32) uint32 {
		if a > b {
			return a - b
		}
		return b - a
	}
	return d(r, wr) < 24 && d(g, wg) < 24 && d(b, wb) < 24
}
