package rtms

import (
	"fmt"
	"net/url"
	"strings"
)

// stopReasons are Zoom's STOP_REASON values (zoom/rtms src/rtms.h, the data-types page), in words.
var stopReasons = []string{
	0:  "no reason given",
	1:  "the host stopped it",
	2:  "a participant stopped it",
	3:  "the user who started it left",
	4:  "the user who started it was removed from the meeting",
	5:  "the host turned the app off",
	6:  "the meeting ended",
	7:  "the stream was canceled",
	8:  "the stream was revoked",
	9:  "every app was turned off in the meeting",
	10: "an internal error at Zoom",
	11: "a connection timed out",
	12: "the connection to the meeting's instance was interrupted",
	13: "the signaling connection was interrupted",
	14: "the media connection was interrupted",
	15: "the signaling connection closed abnormally",
	16: "the media connection closed abnormally",
	17: "an exit signal at Zoom",
	18: "authentication failed",
	19: "no worker reconnected in time",
	20: "the receiver asked to close it",
	21: "the customer disconnected",
	22: "the agent disconnected",
	23: "an admin turned the app off",
	24: "the worker stopped answering keep-alives",
	25: "it was stopped through the API",
	26: "streaming is not supported here",
}

// StopReasonAuthentication is Zoom's stop reason for a failed authentication: inside the
// restartable range, but a restart signed the same way fails again.
const StopReasonAuthentication = 18

// Restartable reports whether a stream stopped for this reason can be started again through the
// API: reasons 10 to 19 and 24, as Zoom's failover pages list them. The others (the meeting
// ending, the host or an admin turning the app off, ...) are final.
func Restartable(reason int) bool { return reason >= 10 && reason <= 19 || reason == 24 }

// StopReasonText is a stop reason in words, with its number.
func StopReasonText(reason int) string {
	if reason >= 0 && reason < len(stopReasons) {
		return fmt.Sprintf("%s (stop_reason %d)", stopReasons[reason], reason)
	}
	return fmt.Sprintf("stop_reason %d", reason)
}

// StoppedError is Join's answer for a stopped stream: why it stopped, and whether it may be
// restarted. errors.Is(err, ErrStopped) holds.
type StoppedError struct {
	StopReason int
}

func (e *StoppedError) Error() string {
	msg := "this stream has stopped: " + StopReasonText(e.StopReason) + "; do not reconnect"
	switch {
	case e.StopReason == StopReasonAuthentication:
		msg += "; POST /admin/rtms/start may restart it, but a worker presenting the same signature fails again: check the RTMS app's credentials"
	case Restartable(e.StopReason):
		msg += "; POST /admin/rtms/start may restart it"
	}
	return msg
}

// Is makes a StoppedError match ErrStopped.
func (e *StoppedError) Is(target error) bool { return target == ErrStopped }

// Region is the data centre a signaling URL's host names, lower case: "sjc1" for
// wss://rtms-sjc1.zoom.us/…, "" when the host names none. Zoom names its RTMS hosts by data centre
// (three letters and a number); a dispatcher places the worker near it.
func Region(serverURL string) string {
	u, err := url.Parse(serverURL)
	if err != nil {
		return ""
	}
	for _, part := range strings.FieldsFunc(strings.ToLower(u.Hostname()), func(r rune) bool { return r == '.' || r == '-' }) {
		if dataCentre(part) {
			return part
		}
	}
	return ""
}

// dataCentre reports whether a host label is a data-centre code: three letters, then one or two
// digits ("sjc1", "fra12"; not "rtms", "zoom" or "us").
func dataCentre(label string) bool {
	if len(label) < 4 || len(label) > 5 {
		return false
	}
	for i, r := range label {
		letter, digit := r >= 'a' && r <= 'z', r >= '0' && r <= '9'
		if i < 3 && !letter || i >= 3 && !digit {
			return false
		}
	}
	return true
}
