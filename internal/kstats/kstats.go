package kstats

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
)

// Section is one section of /proc/net/netstat or /proc/net/snmp: a header line
// "TcpExt: Name1 Name2 ..." followed by a value line "TcpExt: 1 2 ...".
type Section struct {
	// Name is the prefix before the colon: "TcpExt", "Tcp", "IpExt", ...
	Name string
	// Fields are the field names in the kernel's order.
	Fields []string
	// Values are the values in the order of Fields. The kernel prints most of them as unsigned
	// longs; the few signed ones (Tcp MaxConn is -1 on Linux) are kept in two's complement and
	// read back with Int.
	Values []uint64
	index  map[string]int
}

// Get returns the value of a field and whether the kernel printed it.
func (s *Section) Get(field string) (uint64, bool) {
	if s == nil {
		return 0, false
	}
	i, ok := s.index[field]
	if !ok {
		return 0, false
	}
	return s.Values[i], true
}

// Int returns a field printed as a signed long (Tcp MaxConn, "-1" for no limit).
func (s *Section) Int(field string) (int64, bool) {
	v, ok := s.Get(field)
	return int64(v), ok
}

// Stats holds the sections of one or more of the files, by name.
type Stats struct {
	Sections map[string]*Section
}

// Section returns the named section, nil when absent.
func (st Stats) Section(name string) *Section {
	return st.Sections[name]
}

// TcpExt returns the TcpExt section of /proc/net/netstat.
func (st Stats) TcpExt() *Section { return st.Sections["TcpExt"] }

// Tcp returns the Tcp section of /proc/net/snmp.
func (st Stats) Tcp() *Section { return st.Sections["Tcp"] }

// Names lists the section names, sorted.
func (st Stats) Names() []string {
	out := make([]string, 0, len(st.Sections))
	for n := range st.Sections {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Merge adds the sections of o (the other file of the same namespace). A section in both is an
// error: the two files never share one.
func (st *Stats) Merge(o Stats) error {
	if st.Sections == nil {
		st.Sections = map[string]*Section{}
	}
	for name, s := range o.Sections {
		if _, dup := st.Sections[name]; dup {
			return fmt.Errorf("section %s appears twice", name)
		}
		st.Sections[name] = s
	}
	return nil
}

// Parse reads the content of /proc/net/netstat or /proc/net/snmp: pairs of lines with the same
// "Name:" prefix, the first with field names, the second with as many numbers. Errors name the
// line and what was expected. IcmpMsg, whose fields depend on the traffic seen, parses like
// any other section.
func Parse(b []byte) (Stats, error) {
	st := Stats{Sections: map[string]*Section{}}
	lines := bytes.Split(b, []byte("\n"))
	if n := len(lines); n > 0 && len(lines[n-1]) == 0 {
		lines = lines[:n-1]
	}
	for i := 0; i < len(lines); i += 2 {
		hname, fields, err := splitLine(lines[i])
		if err != nil {
			return Stats{}, fmt.Errorf("line %d: %w", i+1, err)
		}
		if i+1 >= len(lines) {
			return Stats{}, fmt.Errorf("line %d: header of section %s has no value line after it", i+1, hname)
		}
		vname, vals, err := splitLine(lines[i+1])
		if err != nil {
			return Stats{}, fmt.Errorf("line %d: %w", i+2, err)
		}
		if vname != hname {
			return Stats{}, fmt.Errorf("line %d: expected the values of section %s, found section %s", i+2, hname, vname)
		}
		if len(vals) != len(fields) {
			return Stats{}, fmt.Errorf("line %d: section %s has %d field names but %d values", i+2, hname, len(fields), len(vals))
		}
		if _, dup := st.Sections[hname]; dup {
			return Stats{}, fmt.Errorf("line %d: section %s appears twice", i+1, hname)
		}
		s := &Section{Name: hname, Fields: make([]string, len(fields)), Values: make([]uint64, len(vals)), index: make(map[string]int, len(fields))}
		for j, f := range fields {
			name := string(f)
			if _, dup := s.index[name]; dup {
				return Stats{}, fmt.Errorf("line %d: section %s names field %s twice", i+1, hname, name)
			}
			s.Fields[j] = name
			s.index[name] = j
			v, err := parseValue(vals[j])
			if err != nil {
				return Stats{}, fmt.Errorf("line %d: section %s field %s: %w", i+2, hname, name, err)
			}
			s.Values[j] = v
		}
		st.Sections[hname] = s
	}
	return st, nil
}

// splitLine splits "Name: a b c" into the name and the words after the colon.
func splitLine(line []byte) (string, [][]byte, error) {
	name, rest, ok := bytes.Cut(line, []byte(":"))
	if !ok || len(name) == 0 || bytes.ContainsAny(name, " \t") {
		return "", nil, fmt.Errorf("expected \"Section: ...\", found %q", truncate(line))
	}
	return string(name), bytes.Fields(rest), nil
}

// parseValue reads an unsigned decimal, or a negative one kept in two's complement.
func parseValue(b []byte) (uint64, error) {
	s := string(b)
	if len(s) > 0 && s[0] == '-' {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("expected a number, found %q", s)
		}
		return uint64(v), nil
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("expected a number, found %q", s)
	}
	return v, nil
}

func truncate(b []byte) string {
	if len(b) > 60 {
		return string(b[:60]) + "..."
	}
	return string(b)
}
