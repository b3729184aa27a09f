// Package units reads and writes byte counts for people: sizes on the
// command line ("256MiB", "1.5G", "100kB", "4096") and sizes and rates in
// progress lines and summaries ("97.7 KiB", "1.5 GiB").
//
// Parse and Format are the only parser and formatter of byte counts in the
// command and its demos, so that every flag takes the same spellings.
package units
