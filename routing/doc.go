// Package routing decides where an inbound call goes. It is pure: given a
// number's settings (working hours, how it rings, what happens on no answer
// and after hours), the current time, the caller and who is available right
// now, Decide returns a Plan (the ordered steps the call engine runs) together
// with a human-readable trace of every decision, such as
//
//	Tue 18:05 Europe/Warsaw is outside Mon-Fri 09:00-17:00 -> after-hours action voicemail
//
// The package does no I/O and never reads the clock: time and availability
// come in as arguments, so every decision can be reproduced in a test or
// explained after the fact from the stored inputs.
//
// Working hours are wall-clock times in the number's IANA time zone. A daylight
// saving change therefore never shifts them: 09:00-17:00 means 09:00 to 17:00
// local time on both sides of the change, a range that starts inside the hour
// skipped in spring opens at the first instant after it, and in the hour
// repeated in autumn both instants with the same wall time get the same answer.
package routing
