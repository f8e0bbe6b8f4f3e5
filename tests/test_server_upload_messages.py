"""What a user reads when an upload is not a picture: the file's name and the formats taken,
never Python internals."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.server_fixtures import new_project, upload


@pytest.mark.parametrize("route", ["uploads", "masks"])
def test_a_text_file_is_refused_by_name_without_python_internals(client: TestClient, route: str) -> None:
    project = new_project(client)
    response = upload(client, project["id"], b"just some notes\n", route=route, name="notes.txt")
    assert response.status_code == 415
    # The same words as the web UI's own check of a dropped or picked file.
    assert response.json()["detail"] == "“notes.txt”: not a PNG, JPEG or WebP image"
    assert client.get(f"/api/projects/{project['id']}").json()["layers"] == []
