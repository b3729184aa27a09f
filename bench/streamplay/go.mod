module github.com/effusion-bt/effusion/bench/streamplay

go 1.26
