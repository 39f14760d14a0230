module github.com/hitl-mlops/interrupt-agent

go 1.26.8
