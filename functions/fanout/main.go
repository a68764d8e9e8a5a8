// Command fanout consumes the DynamoDB streams: it pushes each stored message to every
// member's open connections and turns TTL deletions of presence items into offline events.
package main

import "github.com/parleychat/parley/internal/lambdamain"

func main() { lambdamain.Stream() }
