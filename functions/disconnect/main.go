// Command disconnect is the disconnect Lambda function; internal/topology declares what it serves.
package main

import "github.com/parleychat/parley/internal/lambdamain"

func main() { lambdamain.Main("disconnect") }
