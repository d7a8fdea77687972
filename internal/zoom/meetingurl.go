package zoom

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// zoomDomains are the domains Zoom serves meeting links from; a vanity or regional host
// (acme.zoom.us, us02web.zoom.us) is a subdomain of one.
var zoomDomains = []string{"zoom.us", "zoom.com", "zoomgov.com"}

// MeetingIDFromURL reads the numeric meeting id out of a Zoom meeting link, in the shapes people
// paste: /j/N (join), /w/N (webinar), /s/N (start), /wc/N/join and /wc/join/N (web client),
// and ?confno=N (/join, and zoommtg:// links), on any Zoom host, with or without pwd=. Its
// error says what is wrong without repeating the link, which may carry a passcode.
func MeetingIDFromURL(raw string) (int64, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return 0, errors.New("meeting_url is not a URL")
	}
	switch strings.ToLower(u.Scheme) {
	case "https", "http", "zoommtg", "zoomus":
	default:
		return 0, errors.New("meeting_url is not a Zoom meeting link: it must be https://…zoom.us/j/<meeting id>")
	}
	host := strings.ToLower(u.Hostname())
	if !isZoomHost(host) {
		return 0, fmt.Errorf("meeting_url is not a Zoom meeting link: its host %.64q is not Zoom's", host)
	}
	if confno := u.Query().Get("confno"); confno != "" {
		return meetingNumber(confno)
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	switch {
	case len(parts) >= 2 && (parts[0] == "j" || parts[0] == "w" || parts[0] == "s"):
		return meetingNumber(parts[1])
	case len(parts) >= 3 && parts[0] == "wc" && parts[1] == "join":
		return meetingNumber(parts[2])
	case len(parts) >= 2 && parts[0] == "wc":
		return meetingNumber(parts[1])
	case len(parts) >= 1 && parts[0] == "my":
		return 0, errors.New("meeting_url is a personal link name (/my/…), which names no meeting: use the /j/<meeting id> link")
	}
	return 0, errors.New("meeting_url has no meeting id: expected /j/<id>, /w/<id>, /s/<id> or ?confno=<id>")
}

func isZoomHost(host string) bool {
	for _, d := range zoomDomains {
		if host == d || strings.HasSuffix(host, "."+d) {
			return true
		}
	}
	return false
}

// meetingNumber reads the id part of a link: digits only, so nothing else can reach Zoom's URL.
func meetingNumber(s string) (int64, error) {
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 || strings.Trim(s, "0123456789") != "" {
		return 0, errors.New("meeting_url's meeting id is not a number")
	}
	return id, nil
}
