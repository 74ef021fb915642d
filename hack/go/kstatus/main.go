// Command kstatus prints the kstatus verdict (sigs.k8s.io/cli-utils/pkg/kstatus/status, the
// library Flux and kpt use to decide whether an applied object has settled) for the objects given
// as JSON on stdin: one object, or a list with `items` (as `kubectl get -o json` prints them).
// Output: one line per object, `<status>\t<message>`, e.g. "Current\tResource is Ready".
package main

import (
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "kstatus:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	data, err := io.ReadAll(in)
	if err != nil {
		return err
	}
	// apimachinery's decoder keeps integers as int64, as unstructured objects expect them.
	var doc map[string]interface{}
	if err := utiljson.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("reading JSON from stdin: %w", err)
	}
	objects := []map[string]interface{}{doc}
	if items, ok := doc["items"].([]interface{}); ok {
		objects = objects[:0]
		for _, item := range items {
			obj, ok := item.(map[string]interface{})
			if !ok {
				return fmt.Errorf("an item is not an object")
			}
			objects = append(objects, obj)
		}
	}
	for _, obj := range objects {
		result, err := status.Compute(&unstructured.Unstructured{Object: obj})
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s\t%s\n", result.Status, result.Message)
	}
	return nil
}
