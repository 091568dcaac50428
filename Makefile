# edfs: the two commands a new user needs are `make demo` (a local encrypted cluster doing its job)
# and `make test`. Both install missing system packages first (Scripts/install-deps.sh does nothing
# when all are present).
.PHONY: deps build test demo bench release clean

deps:
	@Scripts/install-deps.sh

build: deps
	swift build

test: deps
	swift test

demo: deps
	swift run edfs demo

bench: deps
	swift run -c release edfs bench --size 1G

release: deps
	swift build -c release

clean:
	rm -rf .build
