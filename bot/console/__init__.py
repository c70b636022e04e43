"""The helper console (帮办代办工作台) at /console: login, queues, live chat, dashboard; and its CLI.

    python -m bot.console add-helper zhangsan --name 张三 --staff-no A012 --queue qykb --queue zonghe
"""
