// The classic browser "resumable upload" pattern, kept deliberately plain: this is what a page written
// against the original X-File-Id protocol looks like. It sends only X-File-Id and X-Start-Byte.

class Uploader {

  constructor({file, onProgress}) {
    this.file = file;
    this.onProgress = onProgress;

    // A fileId that identifies the file: name, size and last-modified date.
    this.fileId = file.name + '-' + file.size + '-' + file.lastModified;
  }

  async getUploadedBytes() {
    let response = await fetch('status', {
      headers: {
        'X-File-Id': this.fileId
      }
    });

    if (response.status != 200) {
      throw new Error("Can't get uploaded bytes: " + response.statusText);
    }

    let text = await response.text();

    return +text;
  }

  async upload() {
    this.startByte = await this.getUploadedBytes();

    let xhr = this.xhr = new XMLHttpRequest();
    xhr.open("POST", "upload", true);

    // Tell the server which file this is and where the bytes of this request start.
    xhr.setRequestHeader('X-File-Id', this.fileId);
    xhr.setRequestHeader('X-Start-Byte', this.startByte);

    xhr.upload.onprogress = (e) => {
      this.onProgress(this.startByte + e.loaded, this.startByte + e.total);
    };

    console.log("send the file, starting from", this.startByte);
    xhr.send(this.file.slice(this.startByte));

    // resolves true on success, false on abort; rejects on any other outcome.
    return await new Promise((resolve, reject) => {

      xhr.onload = xhr.onerror = () => {
        console.log("upload end status:" + xhr.status + " text:" + xhr.statusText);

        if (xhr.status == 200) {
          resolve(true);
        } else {
          reject(new Error("Upload failed: " + xhr.statusText));
        }
      };

      // onabort fires only when xhr.abort() is called
      xhr.onabort = () => resolve(false);

    });
  }

  stop() {
    if (this.xhr) {
      this.xhr.abort();
    }
  }

}
