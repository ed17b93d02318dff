// Command cmd stands in for the Compose plugin in tests of reading its
// version from the binary: it has the plugin's module path and version
// variable, and answers docker-cli-plugin-metadata the way the plugin does.
package main

import (
	"fmt"
	"os"

	"github.com/docker/compose/v2/internal"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "docker-cli-plugin-metadata" {
		fmt.Printf(`{"SchemaVersion":"0.1.0","Vendor":"Docker Inc.","Version":%q,"ShortDescription":"Docker Compose"}`+"\n", internal.Version)
	}
}
