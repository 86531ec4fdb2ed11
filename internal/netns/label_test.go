package netns

import "testing"

func TestLabel(t *testing.T) {
	for _, c := range []struct {
		name  string
		inode uint64
		want  string
	}{
		{"blue", 4026532999, "blue"},
		{"pid 812 nginx", InitInode, "pid 812 nginx"}, // a name given wins
		{"", InitInode, "host"},                       // not root: nothing named the initial namespace
		{"", 4026532999, "net:[4026532999]"},
	} {
		if got := Label(c.name, c.inode); got != c.want {
			t.Errorf("Label(%q, %d) = %q, want %q", c.name, c.inode, got, c.want)
		}
	}
}
