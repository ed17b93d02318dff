module github.com/docker/compose/v2

go 1.22
