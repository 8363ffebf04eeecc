"""A speech-to-text service made with the reference `wyoming` package, for voiceid's tests: it
answers describe with one ASR program, and for each command writes what it received to
<record_dir>/<n>.json (events in order, chunk formats and timestamps) and <n>.raw (the audio bytes,
as received), then answers with a transcript saying how much audio it got.

Usage: python3 upstream.py tcp://127.0.0.1:PORT RECORD_DIR
"""

import asyncio
import json
import os
import sys
import time
from functools import partial

from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.event import Event
from wyoming.info import AsrModel, AsrProgram, Attribution, Describe, Info
from wyoming.server import AsyncEventHandler, AsyncServer

INFO = Info(
    asr=[
        AsrProgram(
            name="reference-stt",
            attribution=Attribution(name="voiceid tests", url="https://pypi.org/project/wyoming/"),
            installed=True,
            description="records what it hears",
            version="1.0",
            models=[
                AsrModel(
                    name="recorder",
                    attribution=Attribution(name="voiceid tests", url="https://pypi.org/project/wyoming/"),
                    installed=True,
                    description=None,
                    version=None,
                    languages=["en", "de"],
                )
            ],
        )
    ]
)


class Handler(AsyncEventHandler):
    counter = 0

    def __init__(self, record_dir, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.record_dir = record_dir
        self.events = []
        self.audio = bytearray()

    async def handle_event(self, event: Event) -> bool:
        if Describe.is_type(event.type):
            await self.write_event(INFO.event())
            return True
        entry = {"type": event.type, "at": time.time()}
        if Transcribe.is_type(event.type):
            entry["language"] = Transcribe.from_event(event).language
            self.events = [entry]
            self.audio = bytearray()
            return True
        if AudioStart.is_type(event.type):
            start = AudioStart.from_event(event)
            entry.update(rate=start.rate, width=start.width, channels=start.channels)
        elif AudioChunk.is_type(event.type):
            chunk = AudioChunk.from_event(event)
            entry.update(
                rate=chunk.rate,
                width=chunk.width,
                channels=chunk.channels,
                timestamp=chunk.timestamp,
                bytes=len(chunk.audio),
            )
            self.audio.extend(chunk.audio)
        elif AudioStop.is_type(event.type):
            self.events.append(entry)
            Handler.counter += 1
            name = os.path.join(self.record_dir, str(Handler.counter))
            with open(name + ".raw", "wb") as f:
                f.write(self.audio)
            with open(name + ".json", "w") as f:
                json.dump(self.events, f)
            await self.write_event(Transcript(text=f"heard {len(self.audio)} bytes", language="en").event())
            return False
        self.events.append(entry)
        return True


async def main() -> None:
    uri, record_dir = sys.argv[1], sys.argv[2]
    server = AsyncServer.from_uri(uri)
    print("ready", flush=True)
    await server.run(partial(Handler, record_dir))


if __name__ == "__main__":
    asyncio.run(main())
