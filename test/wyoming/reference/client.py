"""A client made with the reference `wyoming` package, speaking as Home Assistant's wyoming
speech-to-text entity does (homeassistant/components/wyoming/stt.py): Transcribe(language),
AudioStart, AudioChunk..., AudioStop, then read until a Transcript. Prints one JSON line.

Usage:
  python3 client.py describe tcp://HOST:PORT
  python3 client.py transcribe tcp://HOST:PORT AUDIO.raw RATE CHANNELS [CHUNK_BYTES] [--drop-after N]
"""

import asyncio
import json
import sys

from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncClient
from wyoming.error import Error
from wyoming.info import Describe, Info


async def describe(uri: str) -> None:
    async with AsyncClient.from_uri(uri) as client:
        await client.write_event(Describe().event())
        while True:
            event = await client.read_event()
            if event is None:
                print(json.dumps({"closed": True}))
                return
            if Info.is_type(event.type):
                print(json.dumps({"info": Info.from_event(event).event().data}))
                return
            if Error.is_type(event.type):
                print(json.dumps({"error": Error.from_event(event).text}))
                return


async def transcribe(uri: str, path: str, rate: int, channels: int, chunk_bytes: int, drop_after: int) -> None:
    with open(path, "rb") as f:
        audio = f.read()
    async with AsyncClient.from_uri(uri) as client:
        await client.write_event(Transcribe(language="en").event())
        await client.write_event(AudioStart(rate=rate, width=2, channels=channels).event())
        sent = 0
        for at in range(0, len(audio), chunk_bytes):
            if drop_after >= 0 and sent >= drop_after:
                print(json.dumps({"dropped": sent}))
                return
            await client.write_event(
                AudioChunk(rate=rate, width=2, channels=channels, audio=audio[at : at + chunk_bytes]).event()
            )
            sent += 1
        await client.write_event(AudioStop().event())
        while True:
            event = await client.read_event()
            if event is None:
                print(json.dumps({"closed": True}))
                return
            if Transcript.is_type(event.type):
                print(json.dumps({"text": Transcript.from_event(event).text}))
                return
            if Error.is_type(event.type):
                print(json.dumps({"error": Error.from_event(event).text}))
                return


def main() -> None:
    if sys.argv[1] == "describe":
        asyncio.run(describe(sys.argv[2]))
        return
    args = sys.argv[2:]
    drop_after = -1
    if "--drop-after" in args:
        i = args.index("--drop-after")
        drop_after = int(args[i + 1])
        args = args[:i] + args[i + 2 :]
    uri, path, rate, channels = args[0], args[1], int(args[2]), int(args[3])
    chunk_bytes = int(args[4]) if len(args) > 4 else 2048
    asyncio.run(transcribe(uri, path, rate, channels, chunk_bytes, drop_after))


if __name__ == "__main__":
    main()
