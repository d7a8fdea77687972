package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"github.com/coder/websocket"
	"github.com/coder/websocket/wsjson"
)

// Stream is what zoomtoken's GET /rtms/stream answers (and an rtms.started event's data holds):
// everything join() needs, the signature included.
type Stream struct {
	MeetingUUID  string `json:"meeting_uuid"`
	SessionID    string `json:"session_id"`
	RTMSStreamID string `json:"rtms_stream_id"`
	ServerURLs   string `json:"server_urls"`
	Signature    string `json:"signature"`
	State        string `json:"state"`
}

// FetchStream asks zoomtoken for a stream, as a worker does when its dispatcher hands it only a
// stream id. service is zoomtoken's base URL; secret one of its CALLBACK_SECRETS.
func FetchStream(ctx context.Context, client *http.Client, service, secret, streamID string) (Stream, error) {
	target := service + "/rtms/stream?" + url.Values{"secret": {secret}, "rtms_stream_id": {streamID}}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return Stream{}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return Stream{}, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return Stream{}, fmt.Errorf("zoomtoken answered %d: %s", resp.StatusCode, body)
	}
	var s Stream
	return s, json.Unmarshal(body, &s)
}

// message is any RTMS message, as far as this worker reads it.
type message struct {
	MsgType     int   `json:"msg_type"`
	StatusCode  int   `json:"status_code"`
	Timestamp   int64 `json:"timestamp"`
	MediaServer struct {
		ServerURLs struct {
			All string `json:"all"`
		} `json:"server_urls"`
	} `json:"media_server"`
	Content struct {
		UserName string `json:"user_name"`
		Data     string `json:"data"`
	} `json:"content"`
}

// The RTMS message types this worker speaks.
const (
	signalingHandshake = 1
	mediaHandshake     = 3
	clientReady        = 7
	keepAliveRequest   = 12
	keepAliveResponse  = 13
	transcript         = 17
	mediaTranscript    = 8 // media_type bit for transcripts
)

// Join connects to a stream's signaling and media sockets with the signature zoomtoken vended,
// answers keep-alives, and calls onTranscript with each transcript line until the stream ends or
// ctx does. It holds no Client Secret.
func Join(ctx context.Context, s Stream, onTranscript func(speaker, text string)) error {
	id := s.MeetingUUID
	if id == "" {
		id = s.SessionID
	}
	signaling, _, err := websocket.Dial(ctx, s.ServerURLs, nil)
	if err != nil {
		return fmt.Errorf("signaling: %w", err)
	}
	defer signaling.CloseNow()
	if err := wsjson.Write(ctx, signaling, map[string]any{"msg_type": signalingHandshake, "protocol_version": 1,
		"meeting_uuid": id, "rtms_stream_id": s.RTMSStreamID, "sequence": 0, "signature": s.Signature}); err != nil {
		return err
	}
	var answer message
	if err := wsjson.Read(ctx, signaling, &answer); err != nil {
		return fmt.Errorf("signaling handshake: %w", err)
	}
	if answer.StatusCode != 0 {
		return fmt.Errorf("signaling handshake refused: status_code %d", answer.StatusCode)
	}
	media, _, err := websocket.Dial(ctx, answer.MediaServer.ServerURLs.All, nil)
	if err != nil {
		return fmt.Errorf("media: %w", err)
	}
	defer media.CloseNow()
	if err := wsjson.Write(ctx, media, map[string]any{"msg_type": mediaHandshake, "protocol_version": 1, "meeting_uuid": id,
		"rtms_stream_id": s.RTMSStreamID, "signature": s.Signature, "media_type": mediaTranscript, "payload_encryption": false,
		"media_params": map[string]any{}}); err != nil {
		return err
	}
	if err := wsjson.Read(ctx, media, &answer); err != nil {
		return fmt.Errorf("media handshake: %w", err)
	}
	if answer.StatusCode != 0 {
		return fmt.Errorf("media handshake refused: status_code %d", answer.StatusCode)
	}
	if err := wsjson.Write(ctx, signaling, map[string]any{"msg_type": clientReady, "rtms_stream_id": s.RTMSStreamID}); err != nil {
		return err
	}
	go keepAlive(ctx, signaling)
	for {
		var msg message
		if err := wsjson.Read(ctx, media, &msg); err != nil {
			if websocket.CloseStatus(err) == websocket.StatusNormalClosure {
				return nil // the stream stopped
			}
			return err
		}
		switch msg.MsgType {
		case keepAliveRequest:
			wsjson.Write(ctx, media, map[string]any{"msg_type": keepAliveResponse, "timestamp": msg.Timestamp})
		case transcript:
			onTranscript(msg.Content.UserName, msg.Content.Data)
		}
	}
}

// keepAlive answers the signaling socket's keep-alive requests until it closes.
func keepAlive(ctx context.Context, c *websocket.Conn) {
	for {
		var msg message
		if err := wsjson.Read(ctx, c, &msg); err != nil {
			return
		}
		if msg.MsgType == keepAliveRequest {
			wsjson.Write(ctx, c, map[string]any{"msg_type": keepAliveResponse, "timestamp": msg.Timestamp})
		}
	}
}
