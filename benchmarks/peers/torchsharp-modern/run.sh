#!/usr/bin/env bash
# The TorchSharp (libtorch CPU) peer for MlNetConv's modern preset: Architectures.ModernCnn (flips, BatchNormalization)
# trained with AdamW, a warm-up + cosine schedule and label smoothing on Fashion-MNIST, as `e2e --model modern` trains it.
# usage: run.sh [--epochs N=5] [--threads N=2] [--batch N=32] [--train-limit N] [--seed N=42] [--data DIR]
# It builds into $PEER_BUILD (default /tmp/torchsharp-modern-peer-build) when that has no build or an older one, and
# reads the repository's ../shared/data/fashion-mnist (else its data/fashion-mnist-subset) unless given --data.
# Prints per-epoch test accuracy and train img/s, then inference img/s at batch 256, 32 and 1.
# tools/weaken_glibcxx_need.py is a copy of the textbook peer's (../shared/peers/torchsharp/tools), so that this folder
# builds on its own.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
build=${PEER_BUILD:-/tmp/torchsharp-modern-peer-build}
dll="$build/bin/TorchSharpModernPeer.dll"
if [ ! -f "$dll" ] || [ -n "$(find "$here" -type f -newer "$dll" -not -path '*/bin/*' -not -path '*/obj/*')" ]; then
  rm -rf "$build/src"
  mkdir -p "$build/src"
  cp -r "$here/Program.cs" "$here/TorchSharpModernPeer.csproj" "$here/Directory.Build.props" "$here/Directory.Packages.props" "$here/tools" "$build/src/"
  dotnet build "$build/src" -c Release -o "$build/bin" >"$build/build.log" 2>&1 || { tail -30 "$build/build.log"; exit 1; }
fi
data="$(dirname "$root")/shared/data/fashion-mnist"
[ -d "$data" ] || data="$root/data/fashion-mnist-subset"
exec dotnet "$dll" --data "$data" "$@"
