package atomicfile

import (
	"io/fs"
	"os"
)

func replace(path string, data []byte, perm fs.FileMode) error {
	return os.WriteFile(path, data, perm)
}
