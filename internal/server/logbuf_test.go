package server_test

import "github.com/gatehouse-dev/gatehouse/internal/logtest"

// syncBuffer is a log sink the code under test and the test may share.
type syncBuffer = logtest.Buffer
