// Command herald runs the Herald real-time messaging server.
package main

import (
	"os"

	"github.com/heraldrt/herald/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr)) }
