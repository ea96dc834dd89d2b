package localstore

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/johannesboyne/gofakes3"
)

// slogLogger passes gofakes3's log lines to a slog.Logger. gofakes3 logs
// every request at its INFO level, so INFO and DEBUG lines become Debug
// records and stay hidden at the usual Info level. Its ERR lines report
// requests that failed with 500 and become Warn records.
type slogLogger struct {
	logger *slog.Logger
}

var _ gofakes3.Logger = slogLogger{}

func (l slogLogger) Print(level gofakes3.LogLevel, v ...any) {
	slogLevel := slog.LevelDebug
	switch level {
	case gofakes3.LogErr, gofakes3.LogWarn:
		slogLevel = slog.LevelWarn
	}

	ctx := context.Background()
	if !l.logger.Enabled(ctx, slogLevel) {
		return
	}
	detail := strings.TrimSuffix(fmt.Sprintln(v...), "\n")
	l.logger.Log(ctx, slogLevel, "local store: gofakes3 message", "detail", detail)
}
