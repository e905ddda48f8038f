"""LLaVA-1.5 family (LlavaForConditionalGeneration), and the testbed's reading LLaVA."""

from shiftdc.models.adapter import Adapter


class LlavaAdapter(Adapter):
    family = "llava"
    #: "shiftdc_testbed": the testbed, a LLaVA whose image tokens also carry what it reads
    model_types = ("llava", "shiftdc_testbed")

    @classmethod
    def register(cls) -> None:
        from shiftdc.testbed.modeling import register

        register()
