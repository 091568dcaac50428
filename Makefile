# edfs: the two commands a new user needs are `make bench` (what edfs does, for now: its parallel
# encryption measured against OpenSSL's own ceiling) and `make test`. Both install missing system
# packages first (Scripts/install-deps.sh does nothing when all are present).
.PHONY: deps build test bench release clean

deps:
	@Scripts/install-deps.sh

build: deps
	swift build

test: deps
	swift test

bench: deps
	swift run -c release edfs bench --size 1G

release: deps
	swift build -c release

clean:
	rm -rf .build
