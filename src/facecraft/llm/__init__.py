"""facecraft.llm: the language model a PAL thinks with (a leaf package: it knows no faces or HTTP).

``catalog`` names the embedded models; ``gguf`` joins a model's part wheels into one verified file;
``local`` runs it in-process with llama.cpp (``xllamacpp``) keeping the PAL's prompt prefix cached;
``remote`` streams from an OpenAI-compatible endpoint (the upgrade by URL); ``server`` starts llama.cpp's
own OpenAI-compatible server on a loopback port. Every backend streams text through the same
:class:`~facecraft.llm.types.ChatLLM` interface and fails with ``LLMError`` / ``LLMTimeoutError``.
"""
