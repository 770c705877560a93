package registry

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// ReadSecretFile reads the one secret a credentials file holds (a token,
// or user:password): its first line that is neither blank nor a # comment.
// The file must not be readable or writable by group or others (mode 0600
// or stricter), as --zk-auth-file. flag names the setting in errors, which
// never quote the file's content. The secret is recorded with AddSecret
// (for user:password, the password) so no message can print it.
func ReadSecretFile(flag, file string) (string, error) {
	f, err := os.Open(file)
	if err != nil {
		return "", fmt.Errorf("%s: %w", flag, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("%s: %w", flag, err)
	}
	if mode := st.Mode().Perm(); mode&0o077 != 0 {
		return "", fmt.Errorf("%s %s: mode %04o lets others read it; chmod 600 %s", flag, file, mode, file)
	}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		AddSecret(line)
		if _, pass, ok := strings.Cut(line, ":"); ok {
			AddSecret(pass)
		}
		return line, nil
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("%s %s: %w", flag, file, err)
	}
	return "", fmt.Errorf("%s %s: empty (want one line)", flag, file)
}
