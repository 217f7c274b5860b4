// Command ossctl is a CLI for Alibaba Cloud OSS with a bundled OSS-compatible server.
package main

import (
	"os"

	"github.com/ossctl/ossctl/internal/cli"
)

func main() {
	os.Exit(cli.Main())
}
