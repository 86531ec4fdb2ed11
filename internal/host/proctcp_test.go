package host

import (
	"bytes"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
)

const tcp4Table = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1 0000000000000000 100 0 0 10 0
   1: 0100007F:0050 0100007F:D431 01 00000000:00000000 02:000A7B3F 00000000    33        0 1004 2 0000000000000000 20 4 30 10 -1
   2: 0100007F:1F90 0100007F:D432 06 00000000:00000000 03:00001770 00000000     0        0 0 3 0000000000000000
  garbage line that is not a socket
   3: 0100007F:ZZZZ 0100007F:D432 06 00000000:00000000 03:00001770 00000000     0        0 12 3 0000000000000000
   4: 0A0B0C0D:0016 C0A80001:C350 08 00000000:00000000 00:00000000 00000000     0        0 77`

const tcp6Table = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:01BB 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1002 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000100007F:A000 01 00000000:00000000 00:00000000 00000000     0        0 1005 1 0000000000000000 100 0 0 10 0
   2: B80D0120000000000000000001000000:0050 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1006 1 0000000000000000 100 0 0 10 0
`

func parseAll(t *testing.T, table string) []tcpEntry {
	t.Helper()
	var out []tcpEntry
	if err := parseProcNetTCP(strings.NewReader(table), func(e *tcpEntry) { out = append(out, *e) }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestParseProcNetTCP(t *testing.T) {
	if !littleEndian {
		t.Skip("the tables are from a little-endian machine")
	}
	ap := netip.MustParseAddrPort
	got := parseAll(t, tcp4Table)
	want := []tcpEntry{
		{Local: ap("0.0.0.0:80"), Remote: ap("0.0.0.0:0"), State: tcpListen, Inode: 1001},
		{Local: ap("127.0.0.1:80"), Remote: ap("127.0.0.1:54321"), State: 1, Inode: 1004},
		{Local: ap("127.0.0.1:8080"), Remote: ap("127.0.0.1:54322"), State: 6, Inode: 0},
		{Local: ap("13.12.11.10:22"), Remote: ap("1.0.168.192:50000"), State: 8, Inode: 77},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("tcp:\n got %+v\nwant %+v", got, want)
	}

	got = parseAll(t, tcp6Table)
	want = []tcpEntry{
		{Local: ap("[::]:443"), Remote: ap("[::]:0"), State: tcpListen, Inode: 1002},
		{Local: ap("[::ffff:127.0.0.1]:8080"), Remote: ap("[::ffff:127.0.0.1]:40960"), State: 1, Inode: 1005},
		{Local: ap("[2001:db8::1]:80"), Remote: ap("[::]:0"), State: tcpListen, Inode: 1006},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("tcp6:\n got %+v\nwant %+v", got, want)
	}
}

func TestParseProcNetTCPLongLine(t *testing.T) {
	// A line longer than the reader's buffer is skipped, and the next one still parses.
	long := "   9: " + strings.Repeat("X", 100<<10) + "\n"
	table := long + "   0: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1001 1\n"
	got := parseAll(t, table)
	if len(got) != 1 || got[0].Inode != 1001 {
		t.Errorf("got %+v", got)
	}
}

// BenchmarkParseProcNetTCP parses a table of 100k sockets, the size bench/ compares with `ss`
// on.
func BenchmarkParseProcNetTCP(b *testing.B) {
	var buf bytes.Buffer
	buf.WriteString("  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n")
	for i := 0; i < 100000; i++ {
		fmt.Fprintf(&buf, "%4d: 0100007F:%04X 0100007F:1F90 01 00000000:00000000 02:000A7B3F 00000000  1000        0 %d 2 0000000000000000 20 4 30 10 -1\n",
			i, i%65536, 100000+i)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if err := parseProcNetTCP(bytes.NewReader(data), func(*tcpEntry) { n++ }); err != nil || n != 100000 {
			b.Fatalf("n = %d, err = %v", n, err)
		}
	}
}

func FuzzParseProcNetTCP(f *testing.F) {
	f.Add([]byte(tcp4Table))
	f.Add([]byte(tcp6Table))
	f.Add([]byte("0: 1:1 1:1 1 a b c d e 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = parseProcNetTCP(bytes.NewReader(data), func(e *tcpEntry) {
			if !e.Local.IsValid() || !e.Remote.IsValid() {
				t.Fatalf("invalid address accepted: %+v", e)
			}
		})
	})
}
