package chat

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// strftimeNow is transformers' strftime_now(format): the current local
// time formatted by Python's datetime.strftime (glibc's strftime under it).
// Llama 3.2 prints "Today Date: " + strftime_now("%d %b %Y").
func strftimeNow(e *exec.Evaluator, now time.Time, va *exec.VarArgs) *exec.Value {
	if len(va.Args) != 1 || !va.Args[0].IsString() {
		return exec.AsValue(errors.New("strftime_now expects one format string"))
	}
	format := va.Args[0].String()
	if len(format) > maxWidth {
		return failValue(e, &LimitError{What: "strftime_now format too long"})
	}
	return exec.AsValue(strftime(now, format))
}

var (
	weekdays = []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
	months   = []string{"January", "February", "March", "April", "May", "June", "July",
		"August", "September", "October", "November", "December"}
)

// strftime implements the C-locale directives; "%-d" style (glibc: no
// padding) is honoured, and an unknown directive is copied through as glibc
// does.
func strftime(t time.Time, format string) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 >= len(format) {
			b.WriteByte(c)
			continue
		}
		i++
		pad := true
		if format[i] == '-' && i+1 < len(format) {
			pad = false
			i++
		}
		if s, ok := directive(t, format[i], pad); ok {
			b.WriteString(s)
		} else {
			b.WriteString(format[i-1 : i+1])
		}
	}
	return b.String()
}

func directive(t time.Time, d byte, pad bool) (string, bool) {
	num := func(v, width int) string {
		if !pad {
			return fmt.Sprint(v)
		}
		return fmt.Sprintf("%0*d", width, v)
	}
	hour12 := t.Hour() % 12
	if hour12 == 0 {
		hour12 = 12
	}
	switch d {
	case 'a':
		return weekdays[t.Weekday()][:3], true
	case 'A':
		return weekdays[t.Weekday()], true
	case 'b', 'h':
		return months[t.Month()-1][:3], true
	case 'B':
		return months[t.Month()-1], true
	case 'd':
		return num(t.Day(), 2), true
	case 'e':
		return fmt.Sprintf("%2d", t.Day()), true
	case 'm':
		return num(int(t.Month()), 2), true
	case 'y':
		return num(t.Year()%100, 2), true
	case 'Y':
		return fmt.Sprint(t.Year()), true
	case 'H':
		return num(t.Hour(), 2), true
	case 'I':
		return num(hour12, 2), true
	case 'M':
		return num(t.Minute(), 2), true
	case 'S':
		return num(t.Second(), 2), true
	case 'p':
		if t.Hour() < 12 {
			return "AM", true
		}
		return "PM", true
	case 'j':
		return num(t.YearDay(), 3), true
	case 'f':
		return fmt.Sprintf("%06d", t.Nanosecond()/1000), true
	case 'z':
		return t.Format("-0700"), true
	case 'Z':
		return t.Format("MST"), true
	case 'F':
		return t.Format("2006-01-02"), true
	case 'T':
		return t.Format("15:04:05"), true
	case '%':
		return "%", true
	}
	return "", false
}
