// OAuth 2.0 Form Post Response Mode: send the authorization response on without a click.
// Without JavaScript the page's Continue button does the same.
"use strict";
var form = document.getElementById("form-post");
if (form) {
  form.submit();
}
