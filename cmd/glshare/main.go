// Command glshare is glbridge's tool: it runs the broker that names shared
// resources (serve), lists them (ls), reports what this machine's GL and
// Vulkan drivers can share (info), and runs the demo and the benchmarks.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
)

// command is one glshare subcommand. Each lives in its own file and adds
// itself to commands from an init function, so adding one touches no other.
type command struct {
	name    string
	summary string
	run     func(args []string) error
}

var commands = map[string]command{}

func register(c command) {
	if _, dup := commands[c.name]; dup {
		panic("glshare: command registered twice: " + c.name)
	}
	commands[c.name] = c
}

// writeJSON writes v the way every glshare command writes JSON: indented,
// so that people can read what scripts parse, one value a line.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printReport is every command's --json switch: v as JSON, or what text
// writes. The text is written in one piece, so that a failed write to
// stdout (a closed pipe) is an error of the command rather than lost.
func printReport(w io.Writer, asJSON bool, v any, text func(io.Writer)) error {
	var b bytes.Buffer
	if asJSON {
		if err := writeJSON(&b, v); err != nil {
			return err
		}
	} else {
		text(&b)
	}
	_, err := w.Write(b.Bytes())
	return err
}

func usage() {
	fmt.Fprintf(os.Stderr, "usage: glshare <command> [flags]\n\ncommands:\n")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if commands[n].summary == "" {
			continue // a process the other commands start, not for people
		}
		fmt.Fprintf(os.Stderr, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintf(os.Stderr, "\nRun 'glshare <command> -h' for a command's flags.\n")
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage()
		os.Exit(2)
	}
	c, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "glshare: unknown command %q\n\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	if err := c.run(os.Args[2:]); err != nil {
		if err == flag.ErrHelp {
			os.Exit(2)
		}
		fmt.Fprintf(os.Stderr, "glshare %s: %v\n", c.name, err)
		os.Exit(1)
	}
}
