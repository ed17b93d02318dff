package iostreams

// ColorScheme colours text with ANSI escapes when enabled, and returns it
// unchanged otherwise.
type ColorScheme struct {
	enabled bool
}

func (c *ColorScheme) wrap(code, s string) string {
	if !c.enabled || s == "" {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// Enabled reports whether the scheme colours text.
func (c *ColorScheme) Enabled() bool { return c.enabled }

// Bold makes s bold.
func (c *ColorScheme) Bold(s string) string { return c.wrap("1", s) }

// Red colours s red.
func (c *ColorScheme) Red(s string) string { return c.wrap("31", s) }

// Green colours s green.
func (c *ColorScheme) Green(s string) string { return c.wrap("32", s) }

// Yellow colours s yellow.
func (c *ColorScheme) Yellow(s string) string { return c.wrap("33", s) }

// Cyan colours s cyan.
func (c *ColorScheme) Cyan(s string) string { return c.wrap("36", s) }

// Gray colours s dim grey.
func (c *ColorScheme) Gray(s string) string { return c.wrap("90", s) }

// SuccessIcon is a green check mark.
func (c *ColorScheme) SuccessIcon() string { return c.Green("✓") }

// WarningIcon is a yellow exclamation mark.
func (c *ColorScheme) WarningIcon() string { return c.Yellow("!") }

// FailureIcon is a red cross.
func (c *ColorScheme) FailureIcon() string { return c.Red("✗") }

// SkipIcon is a grey dash.
func (c *ColorScheme) SkipIcon() string { return c.Gray("-") }
