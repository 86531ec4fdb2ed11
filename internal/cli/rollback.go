package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/keeptune/keeptune/internal/apply"
	"github.com/keeptune/keeptune/internal/jsonx"
)

// RollbackOptions are the flags of `keeptune rollback`.
type RollbackOptions struct {
	Output   string
	StateDir string
	Force    bool
	List     bool
}

func newRollbackCmd(stdio IO) *cobra.Command {
	opts := RollbackOptions{}
	cmd := &cobra.Command{
		Use:   "rollback [ID]",
		Short: "Undo an apply exactly: files byte for byte, live values, reloads",
		Long: "rollback undoes apply ID (the last apply in force when no ID is given): every file it touched\n" +
			"gets back its bytes, mode, owner and modification time, every live sysctl its previous value in\n" +
			"every namespace, and servers whose configuration changed are reloaded. It refuses, changing\n" +
			"nothing, when a file or value was changed by someone else since the apply (it says which), unless\n" +
			"--force. An apply or rollback a crash interrupted is undone or finished first. --list shows the\n" +
			"journal.",
		Example: "  keeptune rollback\n  keeptune rollback 20261205T063012Z-3f2a\n  keeptune rollback --list",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := ""
			if len(args) == 1 {
				id = args[0]
			}
			return runRollback(id, opts, stdio)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Output, "output", "o", "text", "output format: text or json")
	f.StringVar(&opts.StateDir, "state-dir", apply.DefaultStateDir, "where the journal lives")
	f.BoolVar(&opts.Force, "force", false, "restore even files and values someone changed since the apply")
	f.BoolVar(&opts.List, "list", false, "list the journal (every apply and what became of it)")
	return cmd
}

func runRollback(id string, opts RollbackOptions, stdio IO) error {
	if err := checkOutput(opts.Output, textOrJSON); err != nil {
		return err
	}
	if opts.List {
		if id != "" {
			return usageErr(errors.New("--list takes no ID"))
		}
		return listJournal(opts, stdio)
	}
	if os.Geteuid() != 0 {
		return privilegeErr(errors.New("rollback changes /etc and live sysctls"), "run it as root")
	}
	j, err := apply.OpenJournal(opts.StateDir)
	if err != nil {
		return runtimeErr(err)
	}
	defer j.Close()
	res, err := apply.Rollback(j, id, apply.Options{Force: opts.Force})
	if errors.Is(err, apply.ErrNothingToRollBack) {
		fmt.Fprintf(stdio.Err, "nothing to roll back: no apply in force in %s\n", opts.StateDir)
		return nil
	}
	if err != nil {
		return applyErr(err)
	}
	if opts.Output == "json" {
		if res.Steps == nil {
			res.Steps = []apply.Step{}
		}
		enc := jsonx.NewEncoder(stdio.Out)
		return enc.Encode(res)
	}
	for _, r := range res.Recovered {
		fmt.Fprintf(stdio.Out, "recovered: %s\n", r)
	}
	if res.ID != "" {
		fmt.Fprintf(stdio.Out, "rolled back %s:\n", res.ID)
		renderSteps(stdio.Out, res.Steps)
	}
	for _, s := range res.Skipped {
		fmt.Fprintf(stdio.Out, "  skipped  %s\n", s)
	}
	return nil
}

func listJournal(opts RollbackOptions, stdio IO) error {
	j, err := apply.OpenJournal(opts.StateDir)
	if err != nil {
		return runtimeErr(err)
	}
	defer j.Close()
	entries, err := j.List()
	if err != nil {
		return runtimeErr(err)
	}
	if opts.Output == "json" {
		enc := jsonx.NewEncoder(stdio.Out)
		if entries == nil {
			entries = []*apply.Entry{}
		}
		return enc.Encode(entries)
	}
	renderJournal(stdio.Out, entries)
	return nil
}

func renderJournal(w io.Writer, entries []*apply.Entry) {
	if len(entries) == 0 {
		fmt.Fprintln(w, "no applies in the journal")
		return
	}
	fmt.Fprintf(w, "%-22s  %-20s  %-12s  %5s  %7s  %s\n", "ID", "CREATED", "STATE", "FILES", "SYSCTLS", "SOURCE / EVENTS")
	for _, e := range entries {
		var ev []string
		for _, x := range e.Events {
			ev = append(ev, x.Time.Format("15:04:05")+" "+x.What)
		}
		extra := e.Source
		if len(ev) > 0 {
			extra += "; " + strings.Join(ev, "; ")
		}
		fmt.Fprintf(w, "%-22s  %-20s  %-12s  %5d  %7d  %s\n", e.ID, e.Created.Format("2006-01-02 15:04:05Z"), strings.ReplaceAll(string(e.State), "_", " "), len(e.Files), len(e.Sysctls), extra)
	}
}
