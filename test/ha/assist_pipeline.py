"""Runs one Assist pipeline from its speech-to-text stage over Home Assistant's websocket API, as a
voice satellite's audio reaches it (assist_pipeline/run, audio as binary messages), and reads the
given sensor the moment the pipeline reaches its intent stage. Runs inside the Home Assistant chroot
(its aiohttp). Prints one JSON object.

Usage: python3 assist_pipeline.py PIPELINE_ID AUDIO.raw SENSOR_ENTITY_ID
"""
import asyncio
import json
import os
import sys

import aiohttp

BASE = f"http://127.0.0.1:{os.environ.get('HA_PORT', '18123')}"
TOKEN = open(os.path.join(os.environ["HA_CONFIG"], ".token")).read().strip()
CHUNK = 2048  # bytes: 64 ms of 16 kHz 16-bit mono


async def main(pipeline_id: str, audio_path: str, sensor: str) -> None:
    audio = open(audio_path, "rb").read()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    out = {"events": [], "stt_text": None, "sensor_at_intent": None, "error": None}
    async with aiohttp.ClientSession() as s:
        ws = await s.ws_connect(BASE + "/api/websocket", heartbeat=30)
        await ws.receive_json()
        await ws.send_json({"type": "auth", "access_token": TOKEN})
        assert (await ws.receive_json())["type"] == "auth_ok"
        await ws.send_json({
            "id": 1,
            "type": "assist_pipeline/run",
            "start_stage": "stt",
            "end_stage": "intent",
            "pipeline": pipeline_id,
            "input": {"sample_rate": 16000},
            "timeout": 60,
        })
        while True:
            msg = await asyncio.wait_for(ws.receive_json(), 90)
            if msg.get("type") == "result":
                if not msg.get("success"):
                    out["error"] = msg.get("error", {}).get("code")
                    break
                continue
            event = msg.get("event", {})
            kind = event.get("type")
            data = event.get("data") or {}
            out["events"].append(kind)
            if kind == "run-start":
                handler = data["runner_data"]["stt_binary_handler_id"]
                prefix = bytes([handler])
                for at in range(0, len(audio), CHUNK):
                    await ws.send_bytes(prefix + audio[at : at + CHUNK])
                await ws.send_bytes(prefix)  # end of audio
            elif kind == "stt-end":
                out["stt_text"] = data.get("stt_output", {}).get("text")
            elif kind == "intent-start":
                r = await s.get(f"{BASE}/api/states/{sensor}", headers=headers)
                state = await r.json()
                out["sensor_at_intent"] = {"state": state.get("state"), "attributes": state.get("attributes")}
            elif kind == "error":
                out["error"] = data.get("code")
            elif kind == "run-end":
                break
        await ws.close()
    print(json.dumps(out))


asyncio.run(main(*sys.argv[1:4]))
