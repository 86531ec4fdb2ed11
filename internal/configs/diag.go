package configs

import (
	"fmt"

	"github.com/keeptune/keeptune/internal/model"
)

// ParseError is what every format's parser returns for a file its server would refuse: the
// file and line the server names (0 when the server names none, as nginx's "no events
// section"), what is wrong, and, where keeptune can tell, a hint (the directive meant by a
// misspelt one, the keyword that replaced a removed one).
type ParseError struct {
	File string
	Line int
	Msg  string
	Hint string
}

func (e *ParseError) Error() string {
	s := e.Msg
	if e.Hint != "" {
		s += " (" + e.Hint + ")"
	}
	if e.Line <= 0 {
		return fmt.Sprintf("%s: %s", e.File, s)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, s)
}

// Warning is something a parser read that the server may refuse or read differently depending
// on what keeptune cannot see from the file: a directive of a module that must be loaded, a
// keyword newer than the server version given, an include leaving the tree being linted. It
// never stops a parse; rule KT890 reports it.
type Warning struct {
	Location model.Location `json:"location"`
	Message  string         `json:"message"`
	// Module names the server module that declares the directive, when keeptune knows it.
	Module string `json:"module,omitempty"`
}
