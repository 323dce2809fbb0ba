#!/usr/bin/env bash
# The TorchSharp (libtorch CPU) peer of `convolutions`: times Conv2D layers (ReLU) alone, in inference and in one
# training step, for the layers the MlNetConv benchmark names.
# usage: run.sh [--threads N=2] --conv N,C,H,K,R,stride,same|valid [--conv ...]
# Prints "conv <spec> inference_us=<median> training_us=<median>" per layer.
# It builds into $PEER_BUILD (default /tmp/torchsharp-convolutions-peer-build) when that has no build or an older one,
# with the modern peer's tools/weaken_glibcxx_need.py (see that peer's project file).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tools="$here/../torchsharp-modern/tools"
build=${PEER_BUILD:-/tmp/torchsharp-convolutions-peer-build}
dll="$build/bin/TorchSharpConvolutionsPeer.dll"
if [ ! -f "$dll" ] || [ -n "$(find "$here" "$tools" -type f -newer "$dll" -not -path '*/bin/*' -not -path '*/obj/*')" ]; then
  rm -rf "$build/src"
  mkdir -p "$build/src"
  cp -r "$here/Program.cs" "$here/TorchSharpConvolutionsPeer.csproj" "$here/Directory.Build.props" "$here/Directory.Packages.props" "$tools" "$build/src/"
  dotnet build "$build/src" -c Release -o "$build/bin" >"$build/build.log" 2>&1 || { tail -30 "$build/build.log"; exit 1; }
fi
exec dotnet "$dll" "$@"
