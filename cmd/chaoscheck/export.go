package main

import (
	"bufio"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/chaoscheck/chaoscheck/history"
)

func newExportCmd() *cobra.Command {
	var in, format, out string
	cmd := &cobra.Command{
		Use:   "export FILE",
		Short: "Convert a history to Jepsen EDN (for Jepsen's own checkers)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "edn" {
				return badInput(fmt.Errorf("unknown export format %q (known: edn)", format))
			}
			f, err := history.ParseFormat(in)
			if err != nil {
				return badInput(err)
			}
			h, _, err := history.Load(args[0], f)
			if err != nil {
				return badInput(err)
			}
			w := cmd.OutOrStdout()
			var file *os.File
			if out != "" && out != "-" {
				if file, err = os.Create(out); err != nil {
					return badInput(err)
				}
				w = file
			}
			bw := bufio.NewWriter(w)
			if err := history.WriteEDN(bw, h); err != nil {
				return couldNotRun(err)
			}
			if err := bw.Flush(); err != nil {
				return couldNotRun(err)
			}
			if file != nil {
				if err := file.Close(); err != nil {
					return couldNotRun(err)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "edn", "output format: edn")
	cmd.Flags().StringVar(&in, "input-format", "", "input format: jsonl, edn, jepsen-log (default: detect)")
	cmd.Flags().StringVarP(&out, "output", "o", "", "output file (default: stdout)")
	return cmd
}
